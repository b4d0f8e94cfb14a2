"""What a run learns to make: a GAN from noise, or a picture -> picture mapping. One module
per task, each registering itself (gan_space.tasks.registry) when imported here; everything
else asks the registry."""

from .registry import TASKS, Task, get_task, register_task, task_names, unregister_task
from . import generation, super_resolution, colorize, sketch, paired, next_frame, unpaired  # noqa: E402,F401  (they register)

__all__ = ["TASKS", "Task", "get_task", "register_task", "unregister_task", "task_names"]

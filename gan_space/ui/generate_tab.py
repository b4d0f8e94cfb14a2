"""The Generate tab: pick a generator, sample a grid by seed, download it, and
animate the path between two seeds."""

import time
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from gan_space.hosting.zerogpu import on_gpu

from .classifier_section import build_classifier_section
from .common import AppContext, model_dropdown, session_hash, user_error
from .models import GENERATORS, GeneratorEntry, find_generator, list_generators
from .pictures import grid_picture
from .sounds import GenerateSounds, morph_sound_outputs, sample_sound_outputs, wire_generate_sounds
from .steer import build_steer_panels

ALL_CLASSES = "all classes (in turn)"
MAX_COUNT = 64
POINTS_PER_COUNT = 50  # a 2-D model draws count x 50 points: a handful of points shows no modes
GIF_FRAME_SIZE = 256  # interpolation frames are enlarged (nearest neighbour) to this many pixels
SAMPLING_CONCURRENCY_ID = "sampling"
SAMPLING_CONCURRENCY = 2  # generation stays responsive while a run trains


@dataclass
class GenerateTab:
    """What build_demo and other tabs (the Hub tab, after a pull) wire to."""

    model: gr.Dropdown
    # refresh(key=None, request=None) -> a dropdown update listing every generator the request's
    # session may use, selecting `key`
    refresh: Callable


def model_choices(context: AppContext, owner: str | None = None) -> list[tuple[str, str]]:
    return [(entry.label, entry.key) for entry in list_generators(context.paths, owner)]


def _count(value) -> int:
    if value is None or float(value) != int(float(value)) or not 1 <= int(float(value)) <= MAX_COUNT:
        raise ValueError(f"count must be a whole number from 1 to {MAX_COUNT}, got {value}")
    return int(float(value))


def _seed(value, name: str = "seed") -> int:
    if value is None or float(value) != int(float(value)) or not 0 <= int(float(value)) < 2**31:
        raise ValueError(f"{name} must be a whole number from 0 to 2,147,483,647, got {value}")
    return int(float(value))


def _truncation(value) -> float:
    if value is None or not 0 < float(value) <= 1:
        raise ValueError(f"truncation must be above 0 and at most 1 (1 = off), got {value}")
    return float(value)


def _class_label(entry: GeneratorEntry, value) -> int | None:
    """A class name (or index) from the class list -> its index; None = all classes in turn."""
    if value in (None, "", ALL_CLASSES):
        return None
    if not entry.num_classes:
        raise ValueError(f"{entry.key} is not class-conditional: it has no class {value!r} (leave the class empty)")
    names = entry.class_names
    if str(value) in names:
        return names.index(str(value))
    raise ValueError(f"class {value!r} is not one of this model's classes: {', '.join(names)}")


def _steer_inputs(entry: GeneratorEntry, seed, count, truncation, class_label):
    """The steering folds check their inputs as Generate does."""
    return _seed(seed), _count(count), _truncation(truncation), _class_label(entry, class_label)


def _interpolation_inputs(entry: GeneratorEntry, seed_a, seed_b, frames, truncation, class_label):
    """Interpolate's inputs checked: (seed a, seed b, frames, truncation, class label)."""
    seed_a, seed_b = _seed(seed_a, "from seed"), _seed(seed_b, "to seed")
    truncation, label = _truncation(truncation), _class_label(entry, class_label)
    if frames is None or not 2 <= int(frames) <= 256:
        raise ValueError(f"frames must be from 2 to 256, got {frames}")
    return seed_a, seed_b, int(frames), truncation, label


def _output_path(context: AppContext, request, stem: str, suffix: str):
    # Unique per call, so an earlier download link keeps pointing at its own picture.
    return context.paths.session_dir(session_hash(request)) / f"{stem}-{time.time_ns()}{suffix}"


def build_generate_tab(context: AppContext, demo: gr.Blocks) -> GenerateTab:
    choices = model_choices(context)
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            with gr.Row():
                # Custom values pass through to find_generator, which names the choices: a
                # model trained after this page was built is not in its initial list.
                model = gr.Dropdown(choices, value=choices[0][1] if choices else None, label="Generator", scale=5,
                                    allow_custom_value=True,
                                    info="shipped with the app, trained here, or pulled from the Hub")
                refresh_button = gr.Button("↻", scale=0, min_width=48, elem_id="refresh-models")
            model_info = gr.Markdown(elem_id="model-info")
            with gr.Row():
                seed = gr.Number(label="Seed", value=0, precision=0)
                class_label = gr.Dropdown([ALL_CLASSES], value=ALL_CLASSES, label="Class", visible=False,
                                          allow_custom_value=True)
            count = gr.Slider(1, MAX_COUNT, value=64, step=1, label="Count",
                              info=f"samples in the grid (2-D models: x{POINTS_PER_COUNT} points)")
            truncation = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="Truncation",
                                   info="1 = off; lower = less variety, more typical samples")
            generate_button = gr.Button("Generate", variant="primary")
            with gr.Accordion("Interpolate between two seeds", open=True):
                with gr.Row():
                    seed_a = gr.Number(label="From seed", value=0, precision=0)
                    seed_b = gr.Number(label="To seed", value=1, precision=0)
                    frames = gr.Slider(4, 60, value=24, step=1, label="Frames")
                interpolate_button = gr.Button("Interpolate")
            steering = build_steer_panels(context, model, seed, count, truncation, class_label, _steer_inputs)
            build_classifier_section(context, model)  # a question about the generator chosen here
        with gr.Column(scale=3, min_width=320):
            grid = gr.Image(label="Samples", type="pil", format="png", interactive=False, elem_id="generate-grid",
                            height=420)
            download = gr.DownloadButton("Download PNG", elem_id="download-png")
            samples_fold, players, wav_files = sample_sound_outputs()  # (sound generators only)
            animation = gr.Image(label="Interpolation", type="filepath", interactive=False,
                                 elem_id="interpolation", height=300)
            morph_fold, morph, morph_files = morph_sound_outputs()

    def refresh(selected: str | None = None, request: gr.Request | None = None):
        """The model list, keeping (or selecting) `selected` when it is still there."""
        return model_dropdown(context, GENERATORS, request, selected)

    def describe_model(key: str | None, request: gr.Request):
        try:
            entry = find_generator(context.paths, key, context.owner(request))
        except ValueError as error:
            return str(error), gr.update(visible=False, choices=[ALL_CLASSES], value=ALL_CLASSES)
        classes = [ALL_CLASSES, *entry.class_names] if entry.num_classes else [ALL_CLASSES]
        return entry.describe(), gr.update(visible=bool(entry.num_classes), choices=classes, value=ALL_CLASSES)

    def generate_grid(model, seed, count, truncation, class_label, request: gr.Request):
        """Sample `count` images (1-64) from `model` (a key from the model list) by seed: returns the grid and
        the same grid as a PNG file."""
        from gan_space.sampling import generate, scatter_plot
        from gan_space.sound_pipeline import spectrogram_grid

        try:
            entry = find_generator(context.paths, model, context.owner(request))
            seed, count, truncation = _seed(seed), _count(count), _truncation(truncation)
            label = _class_label(entry, class_label)
            generator = context.generators.get(entry)
            num = count * POINTS_PER_COUNT if entry.is_points else count
            samples = on_gpu(generate)(generator, num, seed=seed, truncation=truncation, labels=label)
            if entry.is_points:
                picture = scatter_plot(samples)
            else:  # (spectrograms of sounds in cells of at least 128 px: their detail is what is heard)
                picture = spectrogram_grid(samples) if entry.is_sound else grid_picture(samples)
        except Exception as error:
            raise user_error(error) from None
        path = _output_path(context, request, f"{entry.key.split('/')[-1]}-seed{seed}-{count}", ".png")
        picture.save(path)
        return picture, str(path)

    def interpolate_seeds(model, seed_a, seed_b, frames, truncation, class_label, request: gr.Request) -> str:
        """An animated GIF of the samples on the path from `seed_a` to `seed_b` (image models)."""
        from diffusers.utils import export_to_gif

        from gan_space.sampling import interpolate, to_pil_images

        try:
            entry = find_generator(context.paths, model, context.owner(request))
            if entry.is_points:
                raise ValueError("interpolation animates one image between two seeds: pick an image generator "
                                 "(this one makes 2-D points)")
            seed_a, seed_b, frames, truncation, label = _interpolation_inputs(entry, seed_a, seed_b, frames,
                                                                              truncation, class_label)
            generator = context.generators.get(entry)
            samples = on_gpu(interpolate)(generator, seed_a, seed_b, frames=frames, truncation=truncation,
                                          label=label)
            pictures = to_pil_images(samples, min_size=GIF_FRAME_SIZE)
        except Exception as error:
            raise user_error(error) from None
        path = _output_path(context, request, f"{entry.key.split('/')[-1]}-{seed_a}-to-{seed_b}", ".gif")
        # There and back again, so the loop has no jump.
        export_to_gif(pictures + pictures[-2:0:-1], str(path), fps=12)
        return str(path)

    model.change(describe_model, model, [model_info, class_label], queue=False, api_visibility="private")
    # An animation of the previous model's samples would read as this one's.
    model.change(lambda: None, None, animation, queue=False, api_visibility="private")
    # A page opened later sees the runs trained since the app started.
    demo.load(refresh, model, model, queue=False, api_visibility="private").then(
        describe_model, model, [model_info, class_label], queue=False, api_visibility="private")
    refresh_button.click(refresh, model, model, queue=False, api_visibility="private")

    def list_models(request: gr.Request) -> list[dict]:
        """The generators /generate and /interpolate accept: key (pass it as `model`), label, source
        (shipped, trained or hub) and class names (conditional models)."""
        return [{"key": e.key, "label": e.label, "source": e.source, "classes": e.class_names}
                for e in list_generators(context.paths, context.owner(request))]

    gr.api(list_models, api_name="models", concurrency_limit=None)
    sampling = dict(concurrency_limit=SAMPLING_CONCURRENCY, concurrency_id=SAMPLING_CONCURRENCY_ID)
    sample_inputs = [model, seed, count, truncation, class_label]
    interpolation_inputs = [model, seed_a, seed_b, frames, truncation, class_label]
    generate_event = generate_button.click(generate_grid, sample_inputs, [grid, download], api_name="generate",
                                           **sampling)
    interpolate_event = interpolate_button.click(interpolate_seeds, interpolation_inputs, animation,
                                                 api_name="interpolate", **sampling)
    # A sound generator's clips follow its pictures (new endpoints: /generate_sounds, /interpolate_sounds).
    sounds = GenerateSounds(samples_fold, players, wav_files, morph_fold, morph, morph_files,
                            steering["steered_sound_fold"], steering["steered_sound"])
    wire_generate_sounds(context, demo, sounds, model, sample_inputs, interpolation_inputs, generate_event,
                         interpolate_event, _steer_inputs, _interpolation_inputs)
    return GenerateTab(model=model, refresh=refresh)

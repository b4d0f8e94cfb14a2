"""What a saved generator produces, read from its config.json alone (no torch import).

Every network family describes its output the same way in its generator's config, so the
app's model list, the Hub card and the pipeline can tell images from points without
knowing the family: images by `resolution` + `channels` (or a 3-long `data_shape`),
points by a 1-long `data_shape`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class GeneratorOutput:
    kind: str  # "images" or "points"
    channels: int = 0  # images: 1 (grayscale) or 3 (RGB)
    resolution: int = 0  # images: width = height in pixels
    dims: int = 0  # points: coordinates per point

    def describe(self) -> str:
        if self.kind == "points":
            return f"points in {self.dims}-D"
        colour = "grayscale" if self.channels == 1 else "RGB"
        return f"{self.resolution}x{self.resolution} {colour} images"


def generator_output(config: dict) -> GeneratorOutput:
    """The output of a generator with this config (a config.json as a dict, or a model's config)."""
    shape = config.get("data_shape")
    if shape is not None and len(shape) == 1:
        return GeneratorOutput("points", dims=int(shape[0]))
    if shape is not None and len(shape) == 3:
        return GeneratorOutput("images", channels=int(shape[0]), resolution=int(shape[-1]))
    if config.get("resolution") and config.get("channels"):
        return GeneratorOutput("images", channels=int(config["channels"]), resolution=int(config["resolution"]))
    raise ValueError("the generator's config says neither data_shape nor resolution and channels: "
                     "it is not a gan_space generator")

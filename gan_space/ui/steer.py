"""Two folds of the Generate tab: steer the current seed along latent directions
(GANSpace, gan_space.directions), and a class-by-seed grid for conditional models."""

import gradio as gr

from gan_space.hosting.zerogpu import on_gpu

from .common import AppContext, session_hash, user_error
from .models import find_generator
from .pictures import grid_picture
from .sounds import output_folder, sound_fold, sound_settings_of

NUM_SLIDERS = 5  # steer_samples names one amount per slider
SPAN = 3.0  # sliders run from -3 to +3 standard deviations
MAX_STEER_COUNT = 16  # the steered grid: the first samples of the seed
CACHE_FOLDER = ".directions"  # under runs/: hidden, so never listed as a run
MAX_GRID_SEEDS = 12


def _directions(context: AppContext, entry, generator):
    from gan_space.directions import load_or_compute_directions

    # Shipped and pulled folders stay as they came; every cache lives under runs/.directions.
    return load_or_compute_directions(generator, entry.folder, cache_dir=context.paths.runs_dir / CACHE_FOLDER,
                                      num_components=NUM_SLIDERS)


def build_steer_panels(context: AppContext, model, seed, count, truncation, class_label, validate) -> dict:
    """validate: (entry, seed, count, truncation, class_label) -> (seed, count, truncation, label)."""
    with gr.Accordion("Steer (latent directions)", open=False, elem_id="steer"):
        gr.Markdown("The principal directions of the generator's first layer (GANSpace), strongest first. "
                    "Each slider moves the seed's latents by up to 3 standard deviations along one.")
        sliders = [gr.Slider(-SPAN, SPAN, value=0.0, step=0.25, label=f"Direction {k + 1}",
                             elem_id=f"steer-{k + 1}") for k in range(NUM_SLIDERS)]
        directions_info = gr.Markdown(elem_id="steer-info")
        with gr.Row():
            steer_button = gr.Button("Steer", elem_id="steer-button")
            reset_button = gr.Button("Reset sliders")
        steered = gr.Image(label="Steered samples", type="pil", format="png", interactive=False,
                           elem_id="steer-grid", height=300)
        steered_sound_fold, steered_sound = sound_fold("The first steered sample as sound", "steer-sound")
        with gr.Row():
            direction = gr.Dropdown([str(k + 1) for k in range(NUM_SLIDERS)], value="1", label="Animate direction")
            animate_button = gr.Button("Export animation along it", elem_id="steer-animate")
        walk_gif = gr.Image(label="Along the direction (-3 to +3)", type="filepath", interactive=False,
                            elem_id="steer-gif", height=260)
    with gr.Accordion("Class-by-seed grid (class-conditional models)", open=False, elem_id="class-grid-fold"):
        with gr.Row():
            first_seed = gr.Number(label="First seed", value=0, precision=0)
            num_seeds = gr.Slider(1, MAX_GRID_SEEDS, value=8, step=1, label="Seeds (columns)")
        class_grid_button = gr.Button("Class x seed grid", elem_id="class-grid-button")
        class_grid = gr.Image(label="One row per class, one column per seed", type="pil", format="png",
                              interactive=False, elem_id="class-grid", height=420)

    def steered_latents(entry, generator, seed, num, truncation, amounts):
        """(the first `num` latents of the seed moved along the top directions by `amounts`, the directions)."""
        from gan_space.directions import steer
        from gan_space.sampling import sample_latents

        found = _directions(context, entry, generator)
        latents = steer(sample_latents(num, generator.config.latent_dim, seed, truncation), found,
                        [float(a or 0) for a in amounts][: len(found)])
        return latents, found

    def steer_samples(model, seed, count, truncation, class_label, amount_1, amount_2, amount_3, amount_4, amount_5,
                      request: gr.Request):
        """The seed's samples (at most 16) moved along the top latent directions by `amounts`."""
        from gan_space.sampling import generate, scatter_plot

        try:
            entry = find_generator(context.paths, model, context.owner(request))
            seed, count, truncation, label = validate(entry, seed, count, truncation, class_label)
            generator = context.generators.get(entry)
            num = count * 50 if entry.is_points else min(count, MAX_STEER_COUNT)
            latents, found = steered_latents(entry, generator, seed, num, truncation,
                                             (amount_1, amount_2, amount_3, amount_4, amount_5))
            samples = on_gpu(generate)(generator, latents=latents, labels=label)
            picture = scatter_plot(samples) if entry.is_points else grid_picture(samples)
        except Exception as error:
            raise user_error(error) from None
        shares = ", ".join(f"{k + 1}: {100 * float(v):.1f}%" for k, v in enumerate(found.explained))
        return picture, f"Share of the first layer's variance along each direction — {shares}"

    def steer_sound(model, seed, truncation, class_label, amount_1, amount_2, amount_3, amount_4, amount_5,
                    request: gr.Request) -> str:
        """The seed's first sample moved along the top latent directions by `amounts`, as a WAV clip
        (sound generators: the first cell of /steer's grid, heard)."""
        from gan_space.sampling import generate
        from gan_space.sound_pipeline import generator_inverter, write_sounds

        try:
            entry = find_generator(context.paths, model, context.owner(request))
            seed, _, truncation, label = validate(entry, seed, 1, truncation, class_label)
            generator = context.generators.get(entry)
            settings = sound_settings_of(entry, generator)
            latents, _ = steered_latents(entry, generator, seed, 1, truncation,
                                         (amount_1, amount_2, amount_3, amount_4, amount_5))
            clips = generator_inverter(generator)(on_gpu(generate)(generator, latents=latents, labels=label))
        except Exception as error:
            raise user_error(error) from None
        folder = output_folder(context, request, f"{entry.key.split('/')[-1]}-steered-seed{seed}")
        return str(write_sounds(clips, settings.sample_rate, folder, prefix="steered")[0])

    def steer_sound_after_pictures(model, seed, truncation, class_label, amount_1, amount_2, amount_3, amount_4,
                                   amount_5, request: gr.Request):
        # As the steering runs it, after the pictures: a picture generator leaves the (hidden) player be.
        try:
            if not find_generator(context.paths, model, context.owner(request)).is_sound:
                return gr.skip()
        except ValueError:  # the pictures' handler said why
            return gr.skip()
        return steer_sound(model, seed, truncation, class_label, amount_1, amount_2, amount_3, amount_4, amount_5,
                           request)

    def animate(model, seed, truncation, class_label, direction, request: gr.Request) -> str:
        """A GIF of the seed's sample moving from -3 to +3 along one direction (and back)."""
        import time

        from diffusers.utils import export_to_gif

        from gan_space.directions import walk
        from gan_space.sampling import generate, sample_latents, to_pil_images

        try:
            entry = find_generator(context.paths, model, context.owner(request))
            if entry.is_points:
                raise ValueError("the animation moves one image: pick an image generator (this one makes 2-D "
                                 "points; use the sliders instead)")
            seed, _, truncation, label = validate(entry, seed, 1, truncation, class_label)
            index = int(direction) - 1
            generator = context.generators.get(entry)
            found = _directions(context, entry, generator)
            latent = sample_latents(1, generator.config.latent_dim, seed, truncation)[0]
            latents = walk(latent, found, index, frames=24, span=SPAN)
            samples = on_gpu(generate)(generator, latents=latents, labels=label)
            pictures = to_pil_images(samples, min_size=256)
        except Exception as error:
            raise user_error(error) from None
        path = context.paths.session_dir(session_hash(request)) / f"direction{index + 1}-{time.time_ns()}.gif"
        export_to_gif(pictures + pictures[-2:0:-1], str(path), fps=12)
        return str(path)

    def class_by_seed(model, first_seed, num_seeds, truncation, request: gr.Request):
        """A grid with one row per class and one column per seed (class-conditional models)."""
        from gan_space.sampling import class_seed_grid

        try:
            entry = find_generator(context.paths, model, context.owner(request))
            if not entry.num_classes:
                raise ValueError(f"{entry.key} is not class-conditional: train with classes (digits, or an image "
                                 f"folder whose sub-folders are classes) to pick a class")
            if entry.is_points:
                raise ValueError("the class grid shows images")
            seed, _, truncation, _ = validate(entry, first_seed, 1, truncation, None)
            seeds = list(range(seed, seed + int(num_seeds)))
            generator = context.generators.get(entry)
            samples = on_gpu(class_seed_grid)(generator, seeds, truncation=truncation)
            from gan_space.sampling import image_grid

            return image_grid(samples, min_cell=48, columns=len(seeds), padding=3)
        except Exception as error:
            raise user_error(error) from None

    sampling = dict(concurrency_limit=2, concurrency_id="sampling")
    inputs = [model, seed, count, truncation, class_label, *sliders]
    sound_inputs = [model, seed, truncation, class_label, *sliders]
    steer_events = [steer_button.click(steer_samples, inputs, [steered, directions_info], api_name="steer",
                                       **sampling)]
    for slider in sliders:
        steer_events.append(slider.release(steer_samples, inputs, [steered, directions_info],
                                           api_visibility="private", **sampling))
    steer_events.append(reset_button.click(lambda: [0.0] * NUM_SLIDERS, None, sliders, queue=False,
                                           api_visibility="private").then(
        steer_samples, inputs, [steered, directions_info], api_visibility="private", **sampling))
    # A sound generator's steered sample is heard too (after its pictures; the endpoint: /steer_sound).
    for event in steer_events:
        event.success(steer_sound_after_pictures, sound_inputs, steered_sound, api_visibility="private", **sampling)
    gr.Button(visible=False).click(steer_sound, sound_inputs, steered_sound, api_name="steer_sound", **sampling)
    animate_button.click(animate, [model, seed, truncation, class_label, direction], walk_gif,
                         api_name="steer_animation", **sampling)
    class_grid_button.click(class_by_seed, [model, first_seed, num_seeds, truncation], class_grid,
                            api_name="class_grid", **sampling)
    return {"sliders": sliders, "steered": steered, "class_grid": class_grid, "steered_sound_fold": steered_sound_fold,
            "steered_sound": steered_sound}

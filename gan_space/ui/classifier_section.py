"""The Generate tab's classifier test: is the chosen class-conditional generator's output
useful training data? gan_space.classification.classifier_test trains a small classifier on
(a) the real set, (b) generated pictures only (CAS), (c) a few real pictures per class, (d)
those plus generated ones, over seeds, each tested on the same real held-out pictures; the
page shows the four accuracies with their spread and chance level.

It sits in the Generate tab because it is a question about the generator chosen there (the
same model list, the same class names), like sampling and steering it; it trains classifiers,
not the GAN, so it does not take the training device's queue.
"""

import gradio as gr
import pandas as pd

from gan_space import names

from .common import AppContext, user_error
from .models import find_generator

OWN_SET = "the set it trained on"
REAL_SETS = (OWN_SET, *names.BUILTIN_IMAGE_SETS)
MAX_FEW, MAX_GENERATED, MAX_SEEDS, MAX_STEPS = 500, 2000, 10, 3000
CLASSIFIER_CONCURRENCY_ID = "classifier-test"


def _whole(value, name: str, low: int, high: int, blank_ok: bool = False) -> int | None:
    if blank_ok and (value is None or value == "" or value == 0):
        return None
    if value is None or value == "" or float(value) != int(float(value)) or not low <= int(float(value)) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high:,}, got {value}")
    return int(float(value))


def result_table(result) -> pd.DataFrame:
    """The four accuracies (mean and spread over seeds, in %) with what each trained on."""
    from gan_space.classification import CONDITIONS

    k, g, classes = result.few_per_class, result.generated_per_class, len(result.class_names)
    trained_on = {"real": f"{result.train_count} real", "generated": f"{g * classes} generated",
                  "few real": f"{k * classes} real", "few real + generated": f"{k * classes} real + {g * classes} generated"}
    labels = {"real": "(a) real", "generated": "(b) generated only (CAS)", "few real": f"(c) {k} real per class",
              "few real + generated": f"(d) {k} real per class + generated"}
    return pd.DataFrame([{"trained on": labels[c], "accuracy (%)": round(100 * result.mean(c), 1),
                          "± over seeds (%)": round(100 * result.spread(c), 1), "pictures": trained_on[c],
                          "per seed (%)": ", ".join(f"{100 * a:.1f}" for a in result.accuracies[c])}
                         for c in CONDITIONS])


def result_text(result) -> str:
    seeds = len(next(iter(result.accuracies.values())))
    return (f"**{result.model}** against **{result.real}**: {len(result.class_names)} classes, tested on "
            f"{result.test_count} real held-out pictures. **Chance: {result.chance:.1%}.** Mean ± standard deviation "
            f"over {seeds} seed(s) (the classifier's start and batches, which real and generated pictures). A "
            f"generator trained on the whole real set has seen the held-out pictures, which favours (b) and (d) a "
            f"little.")


def run_classifier_test(context: AppContext, model, real, few_per_class, generated_per_class, seeds, steps,
                        request, progress):
    """(table, text) for the classifier test of the listed generator `model`."""
    from dataclasses import replace

    from gan_space.classification import CONDITIONS, classifier_test
    from gan_space.export import load_conditional

    entry = find_generator(context.paths, model, context.owner(request))
    if entry.is_points:
        raise ValueError(f"{entry.key} makes 2-D points: the classifier test needs a class-conditional picture "
                         "generator")
    if not entry.num_classes:
        raise ValueError(f"{entry.key} makes pictures without classes, so it cannot be asked for one: the classifier "
                         "test needs a class-conditional generator. Train one in the Train tab on a set with classes "
                         "(digits, emoji, a folder with one sub-folder per class) with 'Class-conditional' ticked.")
    if real not in REAL_SETS:
        raise ValueError(f"real pictures must be one of: {', '.join(REAL_SETS)}")
    few = _whole(few_per_class, "few per class", 1, MAX_FEW)
    generated = _whole(generated_per_class, "generated per class", 1, MAX_GENERATED, blank_ok=True)
    seeds = _whole(seeds, "seeds", 1, MAX_SEEDS)
    steps = _whole(steps, "classifier steps", 10, MAX_STEPS)
    source = replace(load_conditional(entry.folder), name=entry.key)
    # A shipped or pulled model's record names data on someone else's machine: only a built-in is read for it.
    if real == OWN_SET and entry.source != "trained" and source.dataset not in names.BUILTIN_IMAGE_SETS:
        raise ValueError(f"{entry.key} does not say it trained on a built-in set ({source.dataset or 'not recorded'}): "
                         f"choose the real pictures it imitates ({', '.join(names.BUILTIN_IMAGE_SETS)})")
    progress(0, desc="loading the real pictures")
    total = seeds * len(CONDITIONS)
    result = classifier_test(source, None if real == OWN_SET else real, few_per_class=few,
                             generated_per_class=generated, seeds=seeds, steps=steps,
                             progress=lambda done, _: progress(done / total,
                                                               desc=f"trained {done} of {total} classifiers"))
    return result_table(result), result_text(result)


def build_classifier_section(context: AppContext, model: gr.Dropdown) -> None:
    """The accordion, under the Generate tab's controls; `model` is the tab's generator list."""
    with gr.Accordion("Classifier test: is this generator's output useful training data?", open=False,
                      elem_id="classifier-test"):
        gr.Markdown("A small classifier is trained on (a) the real pictures, (b) generated ones only (the "
                    "Classification Accuracy Score), (c) a few real pictures per class, (d) those plus generated "
                    "ones, and each is tested on the same real held-out pictures. For class-conditional generators.")
        with gr.Row():
            real = gr.Dropdown(list(REAL_SETS), value=OWN_SET, label="Real pictures", elem_id="classifier-real")
            few = gr.Number(label="Few real per class", value=10, precision=0, minimum=1, elem_id="classifier-few")
            generated = gr.Number(label="Generated per class", value=None, precision=0, minimum=0,
                                  elem_id="classifier-generated",
                                  info="0: as many as the real training pictures per class")
        with gr.Row():
            seeds = gr.Number(label="Seeds", value=3, precision=0, minimum=1, maximum=MAX_SEEDS,
                              elem_id="classifier-seeds")
            steps = gr.Number(label="Classifier steps", value=300, precision=0, minimum=10, maximum=MAX_STEPS,
                              elem_id="classifier-steps")
        run_button = gr.Button("Run the classifier test", elem_id="classifier-run")
        table = gr.Dataframe(label="Accuracy on real held-out pictures", interactive=False,
                             elem_id="classifier-table")
        text = gr.Markdown(elem_id="classifier-text")

    def classifier_test(model=None, real=OWN_SET, few_per_class=10, generated_per_class=None, seeds=3, steps=300,
                        request: gr.Request = None, progress=gr.Progress()):
        """The classifier test of a class-conditional generator (`model`: a key from /models): accuracy on real
        held-out pictures of a small classifier trained on (a) the real set, (b) generated only, (c)
        `few_per_class` real per class, (d) those plus generated; mean and spread over `seeds`. real: the set it
        trained on, or a built-in. Returns (the table, a summary with chance level)."""
        try:
            return run_classifier_test(context, model, real, few_per_class, generated_per_class, seeds, steps,
                                       request, progress)
        except Exception as error:
            raise user_error(error) from None

    run_button.click(classifier_test, [model, real, few, generated, seeds, steps], [table, text],
                     api_name="classifier_test", concurrency_limit=1, concurrency_id=CLASSIFIER_CONCURRENCY_ID)


__all__ = ["OWN_SET", "REAL_SETS", "build_classifier_section", "result_table", "run_classifier_test"]

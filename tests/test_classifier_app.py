"""The classifier test in the Generate tab, through the API (gradio_client): the four accuracies
with their spread and chance level for a class-conditional generator, and one clear line (no
traceback) for a generator without classes or bad inputs."""

import pytest
from gradio_client.exceptions import AppError

CONDITIONAL_RUN = "tiny-digits-by-class"


def train_conditional_digits(runs_dir) -> str:
    """A class-conditional digits generator in runs_dir (once: kept for the other modules), 40
    steps: rough pictures; the tests check the wiring, not the generator."""
    import torch

    from gan_space.training import TrainConfig, train

    out = runs_dir / CONDITIONAL_RUN
    if not (out / "checkpoints" / "latest").is_file():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small matrices: one thread is faster on a shared machine
        try:
            config = TrainConfig.for_dataset("digits", out_dir=str(out), conditional=True, steps=40, sample_every=40,
                                             checkpoint_every=40)
            assert train(config).status == "finished"
        finally:
            torch.set_num_threads(threads)
    return f"runs/{CONDITIONAL_RUN}"


@pytest.fixture(scope="module")
def conditional_model(app_server):
    return train_conditional_digits(app_server.runs_dir)


def test_the_four_accuracies_with_their_spread_and_chance(conditional_model, client_factory):
    table, text = client_factory().predict(model=conditional_model, few_per_class=3, generated_per_class=10, seeds=2,
                                           steps=20, api_name="/classifier_test")
    assert table["headers"][:3] == ["trained on", "accuracy (%)", "± over seeds (%)"]
    rows = {row[0]: row for row in table["data"]}
    assert list(rows) == ["(a) real", "(b) generated only (CAS)", "(c) 3 real per class",
                          "(d) 3 real per class + generated"]
    for row in rows.values():
        assert 0 <= row[1] <= 100 and row[2] >= 0
        assert len(row[4].split(", ")) == 2  # one accuracy per seed
    assert rows["(b) generated only (CAS)"][3] == "100 generated"
    assert rows["(d) 3 real per class + generated"][3] == "30 real + 100 generated"
    assert rows["(a) real"][1] > 10  # digits: a classifier trained on the real set beats chance (10%) by far
    assert "Chance: 10.0%" in text and f"**{conditional_model}** against **digits**" in text and "2 seed(s)" in text


@pytest.mark.parametrize("arguments, message", [
    (dict(model="shipped/digits"), "shipped/digits makes pictures without classes.*class-conditional generator"),
    (dict(model="shipped/emoji"), "shipped/emoji makes pictures without classes"),
    (dict(model="no/such"), "no generator 'no/such'"),
    (dict(few_per_class=600), "few per class must be a whole number from 1 to 500"),
    (dict(generated_per_class=5000), "generated per class must be a whole number from 1 to 2,000"),
    (dict(real="somewhere/else"), "not in the list of choices"),
])
def test_bad_models_and_inputs_get_one_line(conditional_model, client_factory, arguments, message):
    arguments = {"model": conditional_model, "seeds": 1, "steps": 10, **arguments}
    with pytest.raises(AppError, match=message) as error:
        client_factory().predict(**arguments, api_name="/classifier_test")
    assert "Traceback" not in str(error.value)

"""The trainer's fast paths compute the same function as the plain ones.

Speed itself is measured in benchmarks/ (train_throughput.py), never asserted here.
"""

import pytest
import torch

from gan_space.devices import autocast_context, cpu_supports_bf16, resolve_precision
from gan_space.models import get_family
from gan_space.losses import generator_loss
from gan_space.models import DCGANDiscriminator, DCGANGenerator
from gan_space.training import ConfigError, TrainConfig, Trainer

CPU = torch.device("cpu")


def networks(resolution=32, width=16, seed=0):
    torch.manual_seed(seed)
    return (DCGANGenerator(resolution=resolution, channels=3, latent_dim=32, width=width),
            DCGANDiscriminator(resolution=resolution, channels=3, width=width))


def close(fast, exact, relative):
    """Within `relative` of the exact values' scale, element by element."""
    scale = exact.abs().max().item()
    return torch.allclose(fast.float(), exact, rtol=0, atol=relative * scale + 1e-6)


def test_bf16_autocast_matches_fp32_forward_and_backward():
    G, D = networks()
    G.to(memory_format=torch.channels_last)
    D.to(memory_format=torch.channels_last)
    z = torch.randn(32, 32)  # fresh inputs, not the ones the networks were built with

    def generator_step(precision):
        G.zero_grad(set_to_none=True)
        with autocast_context(CPU, precision):
            images = G(z)
            logits = D(images).float()
        generator_loss("non-saturating", logits).backward()
        return images.float().detach(), logits.detach(), G.to_image.weight.grad.clone()

    exact_images, exact_logits, exact_grad = generator_step("fp32")
    fast_images, fast_logits, fast_grad = generator_step("bf16")
    assert not torch.equal(fast_images, exact_images)  # autocast did run in bf16
    # bf16 keeps 8 bits of mantissa: about 1% per element, a few % after a few layers.
    assert close(fast_images, exact_images, 0.05)
    assert close(fast_logits, exact_logits, 0.05)
    assert close(fast_grad, exact_grad, 0.1)
    cosine = torch.nn.functional.cosine_similarity(fast_grad.flatten(), exact_grad.flatten(), dim=0)
    assert cosine > 0.99


def test_channels_last_gives_the_same_outputs_and_gradients():
    G, D = networks()
    z = torch.randn(16, 32)
    images = G(z)
    exact = D(images)
    exact.sum().backward()
    exact_grad = D.features[0].weight.grad.clone()
    D.zero_grad(set_to_none=True)

    G.to(memory_format=torch.channels_last)
    D.to(memory_format=torch.channels_last)
    images_cl = G(z)
    fast = D(images_cl)
    fast.sum().backward()
    assert images_cl.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(images_cl, images, atol=1e-5)
    assert torch.allclose(fast, exact, atol=1e-4)
    assert torch.allclose(D.features[0].weight.grad, exact_grad, rtol=1e-4, atol=1e-6)


def test_freezing_d_in_the_generator_step_leaves_the_generator_gradients_unchanged():
    G, D = networks()
    z = torch.randn(16, 32)

    def generator_gradients(freeze_d):
        G.zero_grad(set_to_none=True)
        D.zero_grad(set_to_none=True)
        D.requires_grad_(not freeze_d)
        generator_loss("non-saturating", D(G(z))).backward()
        D.requires_grad_(True)
        return [p.grad.clone() for p in G.parameters()], [p.grad for p in D.parameters()]

    plain_g, plain_d = generator_gradients(freeze_d=False)
    frozen_g, frozen_d = generator_gradients(freeze_d=True)
    assert all(torch.equal(a, b) for a, b in zip(plain_g, frozen_g))
    assert all(g is not None for g in plain_d) and all(g is None for g in frozen_d)  # the work skipped


@pytest.mark.parametrize("pack, num_classes", [(1, 0), (2, 0), (2, 10)])
def test_real_and_fake_in_one_discriminator_batch_score_as_they_would_apart(pack, num_classes):
    torch.manual_seed(0)
    D = DCGANDiscriminator(resolution=16, channels=3, width=16, pack=pack, num_classes=num_classes)
    real, fake = torch.randn(8, 3, 16, 16), torch.randn(8, 3, 16, 16)
    real_labels, fake_labels = (torch.randint(10, (8,)), torch.randint(10, (8,))) if num_classes else (None, None)
    both_labels = torch.cat([real_labels, fake_labels]) if num_classes else None
    real_logits, fake_logits = D(torch.cat([real, fake]), both_labels).chunk(2)
    assert torch.allclose(real_logits, D(real, real_labels), atol=1e-5)
    assert torch.allclose(fake_logits, D(fake, fake_labels), atol=1e-5)


def test_fused_adam_takes_the_same_steps_as_the_default_adam():
    torch.manual_seed(0)
    weights = [torch.randn(64, 32), torch.randn(32)]
    plain = [torch.nn.Parameter(w.clone()) for w in weights]
    fused = [torch.nn.Parameter(w.clone()) for w in weights]
    opt_plain = torch.optim.Adam(plain, lr=1e-3, betas=(0.5, 0.99))
    opt_fused = torch.optim.Adam(fused, lr=1e-3, betas=(0.5, 0.99), fused=True)
    for _ in range(5):
        grads = [torch.randn_like(w) for w in weights]
        for params, opt in ((plain, opt_plain), (fused, opt_fused)):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            opt.step()
    for a, b, start in zip(plain, fused, weights):
        assert torch.allclose(a, b, atol=1e-6)
        assert (a - start).abs().max() > 1e-3  # five steps of lr 1e-3 did move them


def test_precision_auto_uses_bf16_only_where_the_cpu_runs_it_natively(monkeypatch):
    convnet, mlp = get_family("dcgan").mixed_precision, get_family("mlp").mixed_precision
    assert resolve_precision("auto", CPU, convnet) == ("bf16" if cpu_supports_bf16() else "fp32")
    assert resolve_precision("auto", CPU, mlp) == "fp32"  # small MLPs and 2-D points stay fp32
    monkeypatch.setattr("gan_space.devices.cpu_supports_bf16", lambda: False)
    assert resolve_precision("auto", CPU, convnet) == "fp32"  # emulated bf16 would be slower
    assert resolve_precision("fp32", CPU, convnet) == "fp32"


def test_the_trainer_takes_the_fast_paths_by_default(tmp_path):
    config = TrainConfig.for_dataset("digits", arch="dcgan", resolution=16, channels=3, width=8, batch_size=8,
                                     steps=2, out_dir=str(tmp_path / "run"))
    assert config.compile is False  # compiling costs tens of seconds up front: opt-in
    trainer = Trainer(config)
    networks = trainer.networks
    assert trainer.precision == ("bf16" if cpu_supports_bf16() else "fp32")
    real, _ = trainer.source.next_batch(4)
    assert real.is_contiguous(memory_format=torch.channels_last)
    assert real.dtype == torch.float32 and real.device == trainer.device
    assert trainer.source.in_memory  # a small set stays in memory, as 8-bit pixels
    assert networks.discriminator.features[2].weight.is_contiguous(memory_format=torch.channels_last)
    assert networks.generator.blocks[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert networks.opt_g.defaults["fused"] and networks.opt_d.defaults["fused"]
    events = list(trainer.run())
    assert events[-1].status == "finished"
    assert all(p.requires_grad for p in networks.discriminator.parameters())  # unfrozen after the G step


def test_compile_must_be_true_or_false():
    with pytest.raises(ConfigError, match="compile"):
        TrainConfig.for_dataset("digits", compile="yes")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["auto", "fp16", "fp32"])
def test_cuda_mixed_precision_trains(tmp_path, precision):
    config = TrainConfig.for_dataset("digits", arch="dcgan", resolution=32, channels=3, width=16, batch_size=16,
                                     steps=6, log_every=3, out_dir=str(tmp_path / precision), precision=precision,
                                     device="cuda")
    trainer = Trainer(config)
    events = list(trainer.run())
    assert events[-1].status == "finished" and all(v == v for v in events[-1].losses.values())
    assert trainer.networks.scaler_d.is_enabled() == (trainer.precision == "fp16")

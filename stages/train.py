"""Stage train: data/prepared/train.pt -> models/generator.pt, models/checkpoints/last.pt, metrics/train/."""

import numpy as np
import torch
from dvclive import Live

from ganyard.cli import StageError, load_evaluator, run_stage
from ganyard.images import to_grid
from ganyard.io import load_torch, save_torch
from ganyard.metrics.evaluation import QuickFID
from ganyard.models import build_discriminator, build_generator, generator_config
from ganyard.training import balanced_labels, generate, iterations_per_epoch, make_gan, sample_noise, train


def main(params) -> None:
    prepared = load_torch("data/prepared/train.pt", "prepared training data")
    images, labels = prepared["images"], prepared["labels"]
    iterations_per_epoch(len(images), params.train)  # refuses a batch larger than the data, before any compute
    channels, image_size = images.shape[1], images.shape[-1]
    if params.model.conditional and labels is None:
        raise StageError("model.conditional = true needs labelled data; the prepared data has no labels (a flat image folder)")
    classes = len(prepared["class_names"]) if params.model.conditional else 0
    torch.use_deterministic_algorithms(True)
    # Independent streams for weights, training noise/shuffling, the preview noise and the quick-FID noise.
    init_seed, train_seed, preview_seed, eval_seed = np.random.SeedSequence(params.seed).generate_state(4)
    torch.manual_seed(int(init_seed))
    generator = build_generator(params.model, channels, image_size, classes)
    discriminator = build_discriminator(params.model, channels, image_size, classes)
    gan = make_gan(generator, discriminator, params.train)
    preview_noise = sample_noise(params.train.preview_images, params.model.latent_dim, torch.Generator().manual_seed(int(preview_seed)))
    preview_labels = balanced_labels(params.train.preview_images, classes)
    quick_fid = None
    if params.train.eval_every:
        # FID on the evaluator's features against the test split, from one fixed batch of noise.
        quick_fid = QuickFID(load_evaluator(), load_torch("data/prepared/test.pt", "prepared test data")["images"])
        eval_noise = sample_noise(params.train.eval_samples, params.model.latent_dim, torch.Generator().manual_seed(int(eval_seed)))
        eval_labels = balanced_labels(params.train.eval_samples, classes)

    with Live("metrics/train", dvcyaml=None, save_dvc_exp=False, report=None) as live:
        def log_epoch(epoch, stats):
            live.step = epoch
            for name, value in stats.means().items():
                live.log_metric(name, value)
            if params.train.augment == "ada":
                live.log_metric("augment_probability", stats.augment_probability)
            if params.train.discriminator_skip_below is not None:
                live.log_metric("discriminator_skipped", stats.discriminator_skipped)
            live.log_image(f"preview/epoch_{epoch:04d}.png", to_grid(generate(gan.sampling_generator, preview_noise, preview_labels), columns=classes or None))
            if quick_fid is not None and (epoch % params.train.eval_every == 0 or epoch == params.train.epochs):
                live.log_metric("fid", quick_fid(generate(gan.sampling_generator, eval_noise, eval_labels)))

        history = train(gan, images, params.train, torch.Generator().manual_seed(int(train_seed)), on_epoch=log_epoch, labels=labels)
        live.summary["generator_updates"] = sum(s.generator_updates for s in history)
        live.summary["discriminator_updates"] = sum(s.discriminator_updates for s in history)
        live.summary["discriminator_skipped"] = sum(s.discriminator_skipped for s in history)
        live.summary["train_seconds"] = round(sum(s.seconds for s in history), 2)

    config = generator_config(params.model, channels, image_size, classes)
    save_torch({"config": config, "state_dict": gan.sampling_generator.state_dict()}, "models/generator.pt")
    save_torch({"config": config, "epoch": params.train.epochs, "gan": gan.state_dict()}, "models/checkpoints/last.pt")


if __name__ == "__main__":
    run_stage("train", main)

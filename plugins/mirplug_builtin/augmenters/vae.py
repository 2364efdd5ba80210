"""Augmenter ``vae``: a class-conditional variational autoencoder over log-mel images."""

from __future__ import annotations

import torch
from torch import nn

from mirplug_builtin.augmenters.generative import ConditionalDecoder, ConvEncoder, MelGenerator

KL_WEIGHT = 1.0  # the plain ELBO; the reconstruction term is summed over pixels, so KL stays small


class ConditionalEncoder(nn.Module):
    """Image and label -> mean and log-variance of the latent."""

    def __init__(self, latent_dim: int, n_classes: int, n_mels: int, padded_frames: int) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.features = ConvEncoder(n_mels, padded_frames)
        self.head = nn.Linear(self.features.out_dim + n_classes, 2 * latent_dim)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        onehot = nn.functional.one_hot(labels, self.n_classes).float()
        mean, log_var = self.head(torch.cat([self.features(images), onehot], dim=1)).chunk(2, dim=1)
        return mean, log_var.clamp(-10.0, 10.0)


class VAEGenerator(MelGenerator):
    """Conditional VAE (Kingma & Welling 2014; Sohn et al. 2015): encoder q(z | x, y), decoder p(x | z, y).

    Sampling draws ``z ~ N(0, I)`` and decodes it with the requested class.
    """

    architecture = "vae"
    monitored_loss = "loss"

    def _build(self, n_classes: int, n_mels: int, padded_frames: int) -> None:
        latent_dim = self.options["latent_dim"]
        self.networks = {
            "encoder": ConditionalEncoder(latent_dim, n_classes, n_mels, padded_frames),
            "decoder": ConditionalDecoder(latent_dim, n_classes, n_mels, padded_frames),
        }
        parameters = [p for net in self.networks.values() for p in net.parameters()]
        self.optimizer = torch.optim.Adam(parameters, lr=self.options["lr"])

    def _train_step(self, images: torch.Tensor, labels: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        mean, log_var = self.networks["encoder"](images, labels)
        noise = torch.randn(mean.shape, generator=rng)
        latent = mean + noise * torch.exp(0.5 * log_var)
        recon = self.networks["decoder"](latent, labels)
        reconstruction = ((recon - images) ** 2).flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + log_var - mean ** 2 - log_var.exp()).sum(1)).mean()
        loss = reconstruction + KL_WEIGHT * kl
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"reconstruction": reconstruction.detach(), "kl": kl.detach(), "loss": loss.detach()}

    def _generate(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        latent = torch.randn((labels.shape[0], self.options["latent_dim"]), generator=rng)
        return self.networks["decoder"](latent, labels)

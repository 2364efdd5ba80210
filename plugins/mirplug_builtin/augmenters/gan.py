"""Augmenter ``gan``: a class-conditional Wasserstein GAN with gradient penalty over log-mel images."""

from __future__ import annotations

import torch
from torch import nn

from mirplug_builtin.augmenters.generative import ConditionalDecoder, ConvEncoder, MelGenerator

CRITIC_STEPS = 3  # critic updates per generator update (WGAN-GP uses 5; 3 is enough on tiny data)
GRADIENT_PENALTY = 10.0  # lambda of Gulrajani et al. 2017


class ProjectionCritic(nn.Module):
    """Critic with a projection for the class (Miyato & Koyama 2018): ``f(x) + <embed(y), phi(x)>``."""

    def __init__(self, n_classes: int, n_mels: int, padded_frames: int) -> None:
        super().__init__()
        self.features = ConvEncoder(n_mels, padded_frames)
        self.linear = nn.Linear(self.features.out_dim, 1)
        self.embed = nn.Embedding(n_classes, self.features.out_dim)
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        phi = self.features(images)
        return self.linear(phi).squeeze(1) + (self.embed(labels) * phi).sum(1)


class GANGenerator(MelGenerator):
    """Conditional WGAN-GP (Gulrajani et al. 2017) with a projection critic.

    Each step trains the critic :data:`CRITIC_STEPS` times on real and generated images
    (Wasserstein loss plus gradient penalty), then the generator once. The summary's
    ``critic`` loss falls as the critic learns; ``wasserstein`` is the critic's estimate
    of the distance between real and generated images.
    """

    architecture = "gan"
    monitored_loss = "critic"
    default_steps = 200
    default_latent_dim = 64
    default_lr = 2e-4

    def _build(self, n_classes: int, n_mels: int, padded_frames: int) -> None:
        self.networks = {
            "generator": ConditionalDecoder(self.options["latent_dim"], n_classes, n_mels, padded_frames),
            "critic": ProjectionCritic(n_classes, n_mels, padded_frames),
        }
        # Adam with beta1 = 0 and beta2 = 0.9, as WGAN-GP recommends.
        self.g_optimizer = torch.optim.Adam(self.networks["generator"].parameters(), lr=self.options["lr"],
                                            betas=(0.0, 0.9))
        self.c_optimizer = torch.optim.Adam(self.networks["critic"].parameters(), lr=self.options["lr"],
                                            betas=(0.0, 0.9))

    def _latent(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.randn((n, self.options["latent_dim"]), generator=rng)

    def _train_step(self, images: torch.Tensor, labels: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        generator, critic = self.networks["generator"], self.networks["critic"]
        n = images.shape[0]
        for _ in range(CRITIC_STEPS):
            with torch.no_grad():
                fake = generator(self._latent(n, rng), labels)
            mix = torch.rand((n, 1, 1, 1), generator=rng)
            between = (mix * images + (1 - mix) * fake).requires_grad_(True)
            gradients, = torch.autograd.grad(critic(between, labels).sum(), between, create_graph=True)
            penalty = ((gradients.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
            wasserstein = critic(images, labels).mean() - critic(fake, labels).mean()
            critic_loss = -wasserstein + GRADIENT_PENALTY * penalty
            self.c_optimizer.zero_grad()
            critic_loss.backward()
            self.c_optimizer.step()
        generator_loss = -critic(generator(self._latent(n, rng), labels), labels).mean()
        self.g_optimizer.zero_grad()
        generator_loss.backward()
        self.g_optimizer.step()
        return {"generator": generator_loss.detach(), "wasserstein": wasserstein.detach(),
                "critic": critic_loss.detach()}

    def _generate(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        return self.networks["generator"](self._latent(labels.shape[0], rng), labels)

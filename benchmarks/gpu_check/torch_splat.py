"""The splatting operator in plain PyTorch with `index_add_`, on any device: the usual fallback of PyTorch
users, timed beside our kernel (part d). jax_softsplat.commands.speed has the same splat for the CPU with
numpy inputs converted on every call; here the tensors stay on their device, and the pixel coordinates
are float32 whatever the dtype (bfloat16 cannot hold integers above 256)."""


def splat_sum(torch, x, flow):
    """x [N, C, H, W], flow [N, 2, H, W] -> the summation splat of x, [N, C, H, W] in x's dtype."""
    n, c, h, w = x.shape
    gy, gx = torch.meshgrid(
        torch.arange(h, dtype=torch.float32, device=x.device),
        torch.arange(w, dtype=torch.float32, device=x.device),
        indexing="ij",
    )
    tx, ty = gx + flow[:, 0].float(), gy + flow[:, 1].float()
    x0, y0 = torch.floor(tx), torch.floor(ty)
    ax, ay = tx - x0, ty - y0
    out = x.new_zeros(n, c, h * w + 1)  # the last column collects what lands outside
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        cx, cy = x0 + dx, y0 + dy
        weight = (ax if dx else 1 - ax) * (ay if dy else 1 - ay)
        inside = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h) & torch.isfinite(weight)
        index = torch.where(inside, cy * w + cx, torch.full_like(cx, h * w)).long()
        contribution = (x * torch.where(inside, weight, 0).to(x.dtype).unsqueeze(1)).reshape(n, c, h * w)
        for b in range(n):
            out[b].index_add_(1, index[b].reshape(-1), contribution[b])
    return out[:, :, : h * w].reshape(n, c, h, w)


def softsplat(torch, x, flow, metric, mode: str = "soft"):
    """NCHW tensors; modes as jax_softsplat.softsplat's (normalisation: + 1e-7 on the weight sum)."""
    if mode == "sum":
        return splat_sum(torch, x, flow)
    weight = {"avg": torch.ones_like(metric), "linear": metric, "soft": torch.exp(metric)}[mode]
    both = splat_sum(torch, torch.cat([x * weight, weight], 1), flow)
    return both[:, :-1] / (both[:, -1:] + 1e-7)

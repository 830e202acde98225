# Runs diffusers' own FluxTransformer2DModel and SD3Transformer2DModel (from_pretrained on the tiny
# folders `tests/gpu/test_gpu --export DIR` wrote, float64, on the CPU) on the exported step's
# inputs and compares tetri's CPU reference and GPU outputs with diffusers' output. Where
# tiny_diffusers_check.py re-derives the forward from diffusers' modules, this runs diffusers' code
# itself, so the config fields, tensor names, the timestep/guidance scaling, RoPE ids and SD3's
# patchify/unpatchify are diffusers' own. Usage: python3 diffusers_check.py DIR   (exit 1 on failure;
# exit 2 when diffusers cannot be imported)
import sys

import torch
from safetensors.torch import load_file

try:
    import diffusers
    from diffusers import FluxTransformer2DModel, SD3Transformer2DModel
except Exception as e:  # noqa: BLE001 - any import failure means: cannot run this check here
    print(f'SKIP diffusers cannot be imported here: {e}')
    sys.exit(2)


def unpack(lat, gh, gw, C, p):  # packed tokens (c, py, px) -> latent image [B, C, gh p, gw p]
    B = lat.shape[0]
    return lat.view(B, gh, gw, C, p, p).permute(0, 3, 1, 4, 2, 5).reshape(B, C, gh * p, gw * p)


def pack(img, gh, gw, p):  # the inverse
    B, C = img.shape[:2]
    return img.view(B, C, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5).reshape(B, gh * gw, C * p * p)


def flux(d, case):
    m = FluxTransformer2DModel.from_pretrained(d, torch_dtype=torch.float64).eval()
    gh, gw = int(case['grid'][0]), int(case['grid'][1])
    T = case['text'].shape[1]
    img_ids = torch.zeros(gh, gw, 3, dtype=torch.float64)
    img_ids[..., 1] = torch.arange(gh)[:, None]
    img_ids[..., 2] = torch.arange(gw)[None, :]
    # FluxPipeline passes timestep = sigma (t / 1000) and the guidance scale; the model scales both by 1000
    return m(hidden_states=case['latent'], encoder_hidden_states=case['text'], pooled_projections=case['pooled'],
             timestep=case['sigma'], guidance=case['guidance'], img_ids=img_ids.reshape(-1, 3),
             txt_ids=torch.zeros(T, 3, dtype=torch.float64), return_dict=False)[0]


def sd3(d, case):
    m = SD3Transformer2DModel.from_pretrained(d, torch_dtype=torch.float64).eval()
    cfg = m.config
    gh, gw = int(case['grid'][0]), int(case['grid'][1])
    img = unpack(case['latent'], gh, gw, cfg.in_channels, cfg.patch_size)
    # StableDiffusion3Pipeline passes timestep = sigma x 1000
    out = m(hidden_states=img, encoder_hidden_states=case['text'], pooled_projections=case['pooled'],
            timestep=case['sigma'] * 1000, return_dict=False)[0]
    return pack(out, gh, gw, cfg.patch_size)


def main():
    root, failures = sys.argv[1], 0
    print(f'# diffusers {diffusers.__version__}, torch {torch.__version__}')
    for name, fn in (('flux', flux), ('sd3', sd3)):
        d = f'{root}/{name}'
        case = {k: v.to(torch.float64) for k, v in load_file(f'{d}/case.safetensors').items()}
        with torch.no_grad():
            ref = fn(d, case)
        for what, tol in (('cpu_out', 1e-4), ('gpu_out', 1e-2)):
            err = ((case[what] - ref).norm() / ref.norm()).item()
            ok = err < tol and torch.isfinite(case[what]).all().item()
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'} {name}: tetri {what} vs diffusers {diffusers.__version__} "
                  f"{'FluxTransformer2DModel' if name == 'flux' else 'SD3Transformer2DModel'} (float64): rel err {err:.2e} (tol {tol:.0e})")
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()

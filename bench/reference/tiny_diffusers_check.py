# Recomputes one step of the tiny FLUX and SD3 models that `tests/gpu/test_gpu --export DIR` wrote,
# in float64 PyTorch, from the state dict under diffusers' names, following diffusers'
# FluxTransformer2DModel / SD3Transformer2DModel module by module (not tetri's C), and compares
# tetri's CPU reference and GPU outputs with it. SD3's latent goes through a real 2x2 convolution on
# the unpacked latent image and its output through diffusers' unpatchify, so the token-order
# convention is checked too. Usage: python3 tiny_diffusers_check.py DIR   (exit 1 on failure)
import json, math, sys
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

torch.set_default_dtype(torch.float64)


def lin(sd, name, x):
    return x @ sd[name + '.weight'].T + sd[name + '.bias']


def ln(x):
    return F.layer_norm(x, (x.shape[-1],), eps=1e-6)


def rms(x, w):  # diffusers RMSNorm over the head dimension, with gain
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w


def gelu(x):
    return F.gelu(x, approximate='tanh')


def timesteps(t):  # Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
    half = 128
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float64) / half
    emb = t[:, None] * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], -1)
    return torch.cat([emb[:, half:], emb[:, :half]], -1)


def embedder(sd, name, x):  # TimestepEmbedding / PixArtAlphaTextProjection: linear, SiLU, linear
    return lin(sd, name + '.linear_2', F.silu(lin(sd, name + '.linear_1', x)))


def heads(x, H):
    B, L, C = x.shape
    return x.view(B, L, H, C // H).transpose(1, 2)


def attention(q, k, v):
    B, H, L, d = q.shape
    p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), -1)
    return (p @ v).transpose(1, 2).reshape(B, L, H * d)


def rope_tables(axes, ids):  # FluxPosEmbed: per axis get_1d_rotary_pos_embed(use_real, repeat_interleave_real)
    cos, sin = [], []
    for i, d in enumerate(axes):
        freqs = 1.0 / (10000 ** (torch.arange(0, d, 2, dtype=torch.float64)[: d // 2] / d))
        ang = torch.outer(ids[:, i], freqs)
        cos.append(ang.cos().repeat_interleave(2, -1))
        sin.append(ang.sin().repeat_interleave(2, -1))
    return torch.cat(cos, -1), torch.cat(sin, -1)


def apply_rope(x, cos, sin):  # apply_rotary_emb(use_real_unbind_dim=-1)
    xr, xi = x.reshape(*x.shape[:-1], -1, 2).unbind(-1)
    rot = torch.stack([-xi, xr], -1).flatten(3)
    return x * cos + rot * sin


def ada_zero(sd, name, temb, x, n=6):
    e = lin(sd, name, F.silu(temb)).chunk(n, -1)
    return ln(x) * (1 + e[1][:, None]) + e[0][:, None], e


def flux(sd, cfg, case):
    H = cfg['num_attention_heads']
    lat, txt, pooled = case['latent'], case['text'], case['pooled']
    sigma, guid = case['sigma'], case['guidance']
    gh, gw = int(case['grid'][0]), int(case['grid'][1])
    T = txt.shape[1]
    temb = (embedder(sd, 'time_text_embed.timestep_embedder', timesteps(sigma * 1000))
            + embedder(sd, 'time_text_embed.guidance_embedder', timesteps(guid * 1000))
            + embedder(sd, 'time_text_embed.text_embedder', pooled))
    h = lin(sd, 'x_embedder', lat)
    c = lin(sd, 'context_embedder', txt)
    img_ids = torch.zeros(gh, gw, 3)
    img_ids[..., 1] = torch.arange(gh)[:, None]
    img_ids[..., 2] = torch.arange(gw)[None, :]
    ids = torch.cat([torch.zeros(T, 3), img_ids.reshape(-1, 3)], 0)
    cos, sin = rope_tables(cfg['axes_dims_rope'], ids)
    for i in range(cfg['num_layers']):
        p = f'transformer_blocks.{i}.'
        nh, e = ada_zero(sd, p + 'norm1.linear', temb, h)
        nc, ec = ada_zero(sd, p + 'norm1_context.linear', temb, c)
        q = rms(heads(lin(sd, p + 'attn.to_q', nh), H), sd[p + 'attn.norm_q.weight'])
        k = rms(heads(lin(sd, p + 'attn.to_k', nh), H), sd[p + 'attn.norm_k.weight'])
        v = heads(lin(sd, p + 'attn.to_v', nh), H)
        eq = rms(heads(lin(sd, p + 'attn.add_q_proj', nc), H), sd[p + 'attn.norm_added_q.weight'])
        ek = rms(heads(lin(sd, p + 'attn.add_k_proj', nc), H), sd[p + 'attn.norm_added_k.weight'])
        ev = heads(lin(sd, p + 'attn.add_v_proj', nc), H)
        q, k, v = torch.cat([eq, q], 2), torch.cat([ek, k], 2), torch.cat([ev, v], 2)
        o = attention(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v)
        co, o = o[:, :T], o[:, T:]
        h = h + e[2][:, None] * lin(sd, p + 'attn.to_out.0', o)
        c = c + ec[2][:, None] * lin(sd, p + 'attn.to_add_out', co)
        x = ln(h) * (1 + e[4][:, None]) + e[3][:, None]
        h = h + e[5][:, None] * lin(sd, p + 'ff.net.2', gelu(lin(sd, p + 'ff.net.0.proj', x)))
        x = ln(c) * (1 + ec[4][:, None]) + ec[3][:, None]
        c = c + ec[5][:, None] * lin(sd, p + 'ff_context.net.2', gelu(lin(sd, p + 'ff_context.net.0.proj', x)))
    z = torch.cat([c, h], 1)
    for i in range(cfg['num_single_layers']):
        p = f'single_transformer_blocks.{i}.'
        nz, e = ada_zero(sd, p + 'norm.linear', temb, z, 3)
        mlp = gelu(lin(sd, p + 'proj_mlp', nz))
        q = rms(heads(lin(sd, p + 'attn.to_q', nz), H), sd[p + 'attn.norm_q.weight'])
        k = rms(heads(lin(sd, p + 'attn.to_k', nz), H), sd[p + 'attn.norm_k.weight'])
        v = heads(lin(sd, p + 'attn.to_v', nz), H)
        o = attention(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v)
        z = z + e[2][:, None] * lin(sd, p + 'proj_out', torch.cat([o, mlp], -1))
    h = z[:, T:]
    scale, shift = lin(sd, 'norm_out.linear', F.silu(temb)).chunk(2, -1)  # AdaLayerNormContinuous
    h = ln(h) * (1 + scale[:, None]) + shift[:, None]
    return lin(sd, 'proj_out', h)  # FLUX's output is already in the packed token order


def sd3(sd, cfg, case):
    H, p_, C = cfg['num_attention_heads'], cfg['patch_size'], cfg['out_channels']
    lat, txt, pooled, sigma = case['latent'], case['text'], case['pooled'], case['sigma']
    gh, gw = int(case['grid'][0]), int(case['grid'][1])
    B, N, _ = lat.shape
    # unpack tokens (channel, py, px) into the latent image, then PatchEmbed's strided convolution
    img = lat.view(B, gh, gw, cfg['in_channels'], p_, p_).permute(0, 3, 1, 4, 2, 5).reshape(B, -1, gh * p_, gw * p_)
    h = F.conv2d(img, sd['pos_embed.proj.weight'], sd['pos_embed.proj.bias'], stride=p_).flatten(2).transpose(1, 2)
    M = cfg['pos_embed_max_size']
    pos = sd['pos_embed.pos_embed'].reshape(1, M, M, -1)
    top, left = (M - gh) // 2, (M - gw) // 2
    h = h + pos[:, top:top + gh, left:left + gw, :].reshape(1, gh * gw, -1)
    temb = embedder(sd, 'time_text_embed.timestep_embedder', timesteps(sigma * 1000)) + embedder(sd, 'time_text_embed.text_embedder', pooled)
    c = lin(sd, 'context_embedder', txt)
    nl = cfg['num_layers']
    for i in range(nl):
        p = f'transformer_blocks.{i}.'
        pre = i == nl - 1
        nh, e = ada_zero(sd, p + 'norm1.linear', temb, h)
        if pre:
            scale, shift = lin(sd, p + 'norm1_context.linear', F.silu(temb)).chunk(2, -1)
            nc = ln(c) * (1 + scale[:, None]) + shift[:, None]
        else:
            nc, ec = ada_zero(sd, p + 'norm1_context.linear', temb, c)
        # JointAttnProcessor2_0: image first, then text
        q = torch.cat([heads(lin(sd, p + 'attn.to_q', nh), H), heads(lin(sd, p + 'attn.add_q_proj', nc), H)], 2)
        k = torch.cat([heads(lin(sd, p + 'attn.to_k', nh), H), heads(lin(sd, p + 'attn.add_k_proj', nc), H)], 2)
        v = torch.cat([heads(lin(sd, p + 'attn.to_v', nh), H), heads(lin(sd, p + 'attn.add_v_proj', nc), H)], 2)
        o = attention(q, k, v)
        o, co = o[:, :N], o[:, N:]
        h = h + e[2][:, None] * lin(sd, p + 'attn.to_out.0', o)
        x = ln(h) * (1 + e[4][:, None]) + e[3][:, None]
        h = h + e[5][:, None] * lin(sd, p + 'ff.net.2', gelu(lin(sd, p + 'ff.net.0.proj', x)))
        if not pre:
            c = c + ec[2][:, None] * lin(sd, p + 'attn.to_add_out', co)
            x = ln(c) * (1 + ec[4][:, None]) + ec[3][:, None]
            c = c + ec[5][:, None] * lin(sd, p + 'ff_context.net.2', gelu(lin(sd, p + 'ff_context.net.0.proj', x)))
    scale, shift = lin(sd, 'norm_out.linear', F.silu(temb)).chunk(2, -1)
    h = ln(h) * (1 + scale[:, None]) + shift[:, None]
    out = lin(sd, 'proj_out', h)
    # diffusers' unpatchify: (h, w, p, q, c) -> (c, h p, w q); then back to packed tokens (c, py, px)
    out = out.reshape(B, gh, gw, p_, p_, C)
    img = torch.einsum('nhwpqc->nchpwq', out).reshape(B, C, gh * p_, gw * p_)
    return img.view(B, C, gh, p_, gw, p_).permute(0, 2, 4, 1, 3, 5).reshape(B, N, C * p_ * p_)


def sincos_2d(D, M, base):  # diffusers get_2d_sincos_pos_embed(D, M, base_size=base, interpolation_scale=1)
    grid_h = torch.arange(M, dtype=torch.float64) / (M / base)
    grid_w = torch.arange(M, dtype=torch.float64) / (M / base)
    grid = torch.stack(torch.meshgrid(grid_w, grid_h, indexing='xy'), 0)

    def oned(d, pos):
        omega = 1.0 / 10000 ** (torch.arange(d // 2, dtype=torch.float64) / (d / 2.0))
        out = torch.outer(pos.reshape(-1), omega)
        return torch.cat([torch.sin(out), torch.cos(out)], 1)
    return torch.cat([oned(D // 2, grid[0]), oned(D // 2, grid[1])], 1)


def main():
    root, failures = sys.argv[1], 0
    for name, fn in (('flux', flux), ('sd3', sd3)):
        d = f'{root}/{name}'
        sd = {k: v.to(torch.float64) for k, v in load_file(f'{d}/diffusion_pytorch_model.safetensors').items()}
        cfg = json.load(open(f'{d}/config.json'))
        case = {k: v.to(torch.float64) for k, v in load_file(f'{d}/case.safetensors').items()}
        if name == 'sd3':  # the positional buffer tetri generates, against diffusers' formula
            D = cfg['num_attention_heads'] * cfg['attention_head_dim']
            want = sincos_2d(D, cfg['pos_embed_max_size'], cfg['sample_size'] // cfg['patch_size'])
            got = sd['pos_embed.pos_embed'].reshape(-1, D)
            err = ((got - want).norm() / want.norm()).item()
            failures += not err < 1e-2
            print(f"{'PASS' if err < 1e-2 else 'FAIL'} sd3: pos_embed.pos_embed vs get_2d_sincos_pos_embed: rel err {err:.2e} (bf16)")
        with torch.no_grad():
            ref = fn(sd, cfg, case)
        for what, tol in (('cpu_out', 1e-4), ('gpu_out', 1e-2)):
            err = ((case[what] - ref).norm() / ref.norm()).item()
            ok = err < tol and torch.isfinite(case[what]).all().item()
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'} {name}: tetri {what} vs float64 PyTorch (diffusers' modules): rel err {err:.2e} (tol {tol:.0e})")
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()

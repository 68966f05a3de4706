"""PyTorch peer of M-CNN (Godinez et al. 2017) for the train-step benchmark: times forward+backward+SGD-momentum.

Run with Debian's interpreter (python3-torch 1.13): /usr/bin/python3 test/bench/torch_mcnn.py --height 256 --width 320
Prints one JSON line: parameters, threads, seconds per step, images/s. After --warmup steps it times at least one step,
then more while under --seconds in all and fewer than --steps. --device cuda runs it on the GPU (the WebGPU bench's
peer); --inference times the forward pass alone (no gradient) instead of a training step.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

COLUMNS = [(1, 16), (2, 16), (4, 16), (8, 32), (16, 32), (32, 32), (64, 64)]  # (pre-pool scale, filters)


class MCNN(nn.Module):
    def __init__(self, height, width, channels=3, classes=13, width_multiplier=1.0):
        super().__init__()
        scaled = lambda n: max(1, round(n * width_multiplier))
        self.columns = nn.ModuleList()
        self.scales = []
        concat = 0
        for scale, filters in COLUMNS:
            f = scaled(filters)
            self.columns.append(nn.ModuleList([
                nn.Conv2d(channels, f, 5, padding=2), nn.Conv2d(f, f, 5, padding=2), nn.Conv2d(f, f, 5, padding=2)]))
            self.scales.append(scale)
            concat += f
        fuse, dense = scaled(1024), scaled(512)
        self.fuse = nn.Conv2d(concat, fuse, 1)
        flat = math.ceil(height / 128) * math.ceil(width / 128) * fuse
        self.dense = nn.Linear(flat, dense)
        self.out = nn.Linear(dense, classes)

    def forward(self, x):
        outs = []
        for scale, convs in zip(self.scales, self.columns):
            y = F.max_pool2d(x, scale, scale) if scale > 1 else x
            for conv in convs:
                y = F.relu(conv(y))
            post = 64 // scale
            if post > 1:
                y = F.max_pool2d(y, post, post, ceil_mode=True)
            outs.append(y)
        y = F.relu(self.fuse(torch.cat(outs, 1)))
        y = F.max_pool2d(y, 2, 2, ceil_mode=True)  # TF 'same' pooling with stride = size
        y = F.relu(self.dense(torch.flatten(y, 1)))
        return self.out(y)  # logits; softmax is inside the loss


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--height', type=int, default=256)
    p.add_argument('--width', type=int, default=320)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--steps', type=int, default=1)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--seconds', type=float, default=0.0)
    p.add_argument('--width-multiplier', type=float, default=1.0)
    p.add_argument('--count-only', action='store_true')
    p.add_argument('--device', default='cpu', help="cpu, or cuda (exits 3 when torch sees no CUDA device)")
    p.add_argument('--inference', action='store_true', help='time the forward pass alone, in inference mode')
    a = p.parse_args()
    if a.device == 'cuda' and not torch.cuda.is_available():
        print(json.dumps({'error': 'torch sees no CUDA device'}))
        raise SystemExit(3)
    device = torch.device(a.device)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = MCNN(a.height, a.width, width_multiplier=a.width_multiplier).to(device)
    params = sum(t.numel() for t in model.parameters())
    result = {'framework': 'pytorch', 'version': torch.__version__, 'threads': torch.get_num_threads(),
              'device': torch.cuda.get_device_name(device) if a.device == 'cuda' else 'cpu',
              'height': a.height, 'width': a.width, 'batch': a.batch, 'parameters': params}
    if not a.count_only:
        opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
        x = torch.rand(a.batch, 3, a.height, a.width, device=device)
        y = torch.randint(0, 13, (a.batch,), device=device)

        def train_step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()  # waits for the device

        def forward():
            with torch.inference_mode():
                model(x)
            if a.device == 'cuda':
                torch.cuda.synchronize()

        step = forward if a.inference else train_step

        for _ in range(a.warmup):
            step()
        times = []
        while not times or (len(times) < a.steps and sum(times) < a.seconds):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        sec = sum(times) / len(times)
        result.update({'steps': len(times), 'secondsPerStep': sec, 'imagesPerSecond': a.batch / sec})
    print(json.dumps(result))


if __name__ == '__main__':
    main()

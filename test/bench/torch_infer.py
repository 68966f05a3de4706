# PyTorch CPU peer of the browser benchmark: the same M-CNN (random weights), ms per 1024x1280 forward, JSON on stdout.
import argparse
import json
import time

import torch
import torch.nn as nn

COLUMNS = [(1, 16), (2, 16), (4, 16), (8, 32), (16, 32), (32, 32), (64, 64)]


class Mcnn(nn.Module):
    def __init__(self, height, width, channels=3, classes=13):
        super().__init__()
        self.columns = nn.ModuleList()
        concat = 0
        for scale, filters in COLUMNS:
            layers = []
            if scale > 1:
                layers.append(nn.MaxPool2d(scale, scale))
            c = channels
            for _ in range(3):
                layers += [nn.Conv2d(c, filters, 5, padding=2), nn.ReLU(inplace=True)]
                c = filters
            post = 64 // scale
            if post > 1:
                layers.append(nn.MaxPool2d(post, post))
            self.columns.append(nn.Sequential(*layers))
            concat += filters
        self.fuse = nn.Sequential(nn.Conv2d(concat, 1024, 1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2))
        flat = 1024 * (height // 128) * (width // 128)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, 512), nn.ReLU(inplace=True), nn.Linear(512, classes), nn.Softmax(dim=1))

    def forward(self, x):
        return self.head(self.fuse(torch.cat([col(x) for col in self.columns], dim=1)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Mcnn(args.height, args.width).eval()
    params = sum(p.numel() for p in model.parameters())
    x = torch.rand(1, 3, args.height, args.width)
    with torch.inference_mode():
        model(x)  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "parameters": params, "msPerField": sorted(times)[len(times) // 2], "times": times}))


if __name__ == "__main__":
    main()

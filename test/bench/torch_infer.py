# PyTorch CPU peer of the browser benchmark: the same M-CNN (random weights), ms per 1024x1280 forward, JSON on stdout.
import argparse
import json
import time

import torch

from torch_mcnn import MCNN  # the one PyTorch definition of the network, shared with the train-step peer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = MCNN(args.height, args.width).eval()
    params = sum(p.numel() for p in model.parameters())
    x = torch.rand(1, 3, args.height, args.width)
    with torch.inference_mode():
        torch.softmax(model(x), dim=1)  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            torch.softmax(model(x), dim=1)  # the browser model ends in softmax
            times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "parameters": params, "msPerField": sorted(times)[len(times) // 2], "times": times}))


if __name__ == "__main__":
    main()

# PyTorch CPU peer of the browser benchmark: the same M-CNN (random weights), ms per 1024x1280 forward, JSON on stdout.
# With --onnx PATH it instead exports that network (softmax included, NCHW input 'x') to ONNX for the forward bench's
# ONNX Runtime peer; torch.onnx.export needs no `onnx` Python package.
import argparse
import json
import time

import torch

from torch_mcnn import MCNN  # the one PyTorch definition of the network, shared with the train-step peer


class WithSoftmax(torch.nn.Module):
    """The browser model ends in softmax; so does the exported one."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return torch.softmax(self.model(x), dim=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--onnx", help="export the network to this ONNX file instead of timing it")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = WithSoftmax(MCNN(args.height, args.width)).eval()
    params = sum(p.numel() for p in model.parameters())
    x = torch.rand(1, 3, args.height, args.width)
    if args.onnx:
        with torch.no_grad():
            torch.onnx.export(model, x, args.onnx, input_names=["x"], output_names=["probs"], opset_version=13)
        print(json.dumps({"torch": torch.__version__, "parameters": params, "onnx": args.onnx, "opset": 13}))
        return
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

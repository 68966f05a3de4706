// The trainer's own step (fused gradient + momentum SGD) on wasm with our backward kernels matches the cpu backend.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, it } from 'vitest';
import { registerWasmTrainingKernels } from '../../training/src/backend/wasm-kernels.ts';
import { expectSameStep, trainStepOn } from './step-reference.ts';

describe('M-CNN training step on wasm vs cpu', () => {
  it('same loss, same gradient for every weight, same weights after two momentum steps', async () => {
    registerWasmTrainingKernels();
    const cpu = await trainStepOn('cpu', 42, [5]);
    const wasm = await trainStepOn('wasm', 42, [5]);
    expectSameStep(wasm, cpu);
  });
});

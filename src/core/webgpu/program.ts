// The part of @tensorflow/tfjs-backend-webgpu 4.22 our kernels use, declared structurally so the core needs neither
// that package's types nor the WebGPU ones: a program (WGSL body + dispatch) and the backend method that runs it.
import type { DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * A compute program as the WebGPU backend compiles it. The backend prepends the bindings (`result`, one
 * `array<f32>` per name in `variableNames`, `uniforms` with each input's `<name>Shape`, `outShape`, then the
 * fields in `uniforms`) and the private builtins `localId`, `localIndex`, `workgroupId`, `numWorkgroups`, and
 * calls `main()` (`main(index)` with a flat `dispatchLayout`, i.e. no y or z).
 */
export interface WebgpuProgram {
  outputShape: number[];
  shaderKey: string;
  variableNames: string[];
  /** Extra uniform fields, WGSL struct syntax ("a : i32, b : i32,"); their values are passed in that order. */
  uniforms?: string;
  /** Adds a `size : i32` uniform holding the output's element count. */
  size?: boolean;
  /** Declares the output `array<atomic<i32>>` (and no setOutput helpers). */
  atomic?: boolean;
  workgroupSize: [number, number, number];
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  getUserCode: () => string;
}

export interface ProgramUniform {
  type: 'int32' | 'uint32' | 'float32';
  data: number[];
}

/** What our kernels call on the 'webgpu' backend (a WebGPUBackend). */
export interface WebgpuProgramRunner {
  /** Runs `program`; into `output` when given (else a new tensor). */
  runWebGPUProgram(program: WebgpuProgram, inputs: TensorInfo[], outputType: DataType, uniforms?: ProgramUniform[], output?: TensorInfo): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
}

/** i32 uniforms from values, in declaration order. */
export const int32Uniforms = (...values: number[]): ProgramUniform[] => values.map((v) => ({ type: 'int32', data: [v] }));

/** A one-dimensional dispatch of `count` threads; the backend folds it into 2-D when it exceeds a dimension's limit. */
export function flatProgramShape(count: number, workgroup = 64): Pick<WebgpuProgram, 'workgroupSize' | 'dispatchLayout' | 'dispatch'> {
  return { workgroupSize: [workgroup, 1, 1], dispatchLayout: { x: [0] }, dispatch: [Math.ceil(count / workgroup), 1, 1] };
}

// Runs the planned mpirun: inherits stdio, forwards Ctrl-C/SIGTERM to it, resolves with its exit code.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { MpirunPlan } from './plan.ts';

/** Exit code in shell convention: the child's code, or 128 + signal number when it was killed. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (constants.signals[signal] ?? 1);
  return 1;
}

export function runMpirun(plan: Pick<MpirunPlan, 'command' | 'args'>): Promise<number> {
  const child = spawn(plan.command, plan.args, { stdio: 'inherit' });
  let interrupts = 0;
  const forward = (signal: NodeJS.Signals): void => {
    interrupts += 1;
    // mpirun turns the first SIGINT/SIGTERM into killing every rank; a third Ctrl-C is a hard kill.
    child.kill(interrupts >= 3 ? 'SIGKILL' : signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, forward);
  return new Promise((resolve, reject) => {
    child.on('error', (error) => {
      for (const signal of signals) process.off(signal, forward);
      reject(new Error(`cannot start mpirun (${error.message}): install openmpi-bin`));
    });
    child.on('exit', (code, signal) => {
      for (const signal of signals) process.off(signal, forward);
      resolve(exitCodeOf(code, signal));
    });
  });
}

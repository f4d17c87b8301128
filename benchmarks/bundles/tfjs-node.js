// One ESM copy of TensorFlow.js for Node: core (from its ESM sources, so the gradient registrations in
// register_all_gradients — which the package's Node bundle leaves out — reach the same engine), the CPU
// backend and the wasm backend. flags must be evaluated before the gradients register.
import '@tensorflow/tfjs-core/dist/flags';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';

export { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
export * from '@tensorflow/tfjs-core';

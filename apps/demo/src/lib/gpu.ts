/** What this browser's WebGPU adapter is, read straight from `GPUAdapter.info`. */
export interface AdapterSummary {
  available: boolean;
  /** "vendor / architecture / device / description", or why there is none. */
  text: string;
  /** A CPU implementation (SwiftShader, lavapipe, llvmpipe, or flagged as a fallback adapter). */
  software: boolean;
  features: string[];
}

export async function describeAdapter(): Promise<AdapterSummary> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu)
    return { available: false, text: 'none (navigator.gpu is undefined)', software: false, features: [] };
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return {
      available: false,
      text: `none (requestAdapter failed: ${(e as Error).message})`,
      software: false,
      features: [],
    };
  }
  if (!adapter)
    return { available: false, text: 'none (requestAdapter returned null)', software: false, features: [] };
  // GPUAdapterInfo's fields are prototype getters: read them one by one (spreading gives {}).
  const info = adapter.info;
  const parts = [info.vendor, info.architecture, info.device, info.description].filter(Boolean);
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  const software = fallback || /swiftshader|lavapipe|llvmpipe|software/i.test(parts.join(' '));
  return {
    available: true,
    text: `${parts.join(' / ') || 'unnamed'}${software ? ' (software: runs on the CPU)' : ''}`,
    software,
    features: [...adapter.features].sort(),
  };
}

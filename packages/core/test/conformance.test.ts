import { runConformance } from '../src/conformance/index.js';
import { JsBackend } from '../src/index.js';

// The reference backend in float32 against itself in float64: checks every case, its shapes and
// dtypes, and that the error bounds hold for a straightforward float32 implementation.
runConformance('js', () => new JsBackend());

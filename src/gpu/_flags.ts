/**
 * WebGPU flag constants (values fixed by the WebGPU specification), so the GPU code does not
 * depend on the runtime installing the `GPUBufferUsage` / `GPUMapMode` / `GPUShaderStage` globals.
 *
 * @module
 */

/** `GPUBufferUsage` flags. */
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  INDIRECT: 0x0100,
  QUERY_RESOLVE: 0x0200,
} as const;

/** `GPUMapMode` flags. */
export const MapMode = { READ: 0x0001 } as const;

/** `GPUShaderStage` flags. */
export const ShaderStage = { COMPUTE: 0x4 } as const;

/* The stb implementations, compiled from the headers of Debian's libstb-dev.
 * Only the decoders vitrace accepts are built: PNG and JPEG.
 *
 * stb_image's JPEG decoder can read Huffman tables that a damaged file never
 * defined; zeroing every allocation makes such tables decode to harmless
 * garbage instead of reading uninitialised memory. (io/image.cpp also checks
 * every Huffman table before the decoder sees the file.) */
#include <stdlib.h>
#define STBI_MALLOC(size) calloc(1, size)
#define STBI_REALLOC(p, size) realloc(p, size)
#define STBI_FREE(p) free(p)
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>

#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

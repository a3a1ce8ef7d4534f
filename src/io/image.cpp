#include "io/image.h"

#include <stb_image.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace vitrace {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& why) {
    throw Error(ErrorKind::Input, "image " + what + ": " + why);
}

bool is_png(const uint8_t* b, size_t n) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    return n >= 8 && std::memcmp(b, sig, 8) == 0;
}

bool is_jpeg(const uint8_t* b, size_t n) { return n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }

uint32_t be32(const uint8_t* p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

uint32_t crc32(const uint8_t* p, size_t n) {
    static const auto table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

// The width and height a header claims, before any decoder has seen them.
struct ClaimedSize {
    int64_t width = 0, height = 0;
};

// stb_image decodes what it can of a damaged file without complaint, so the
// file's structure is checked first: every PNG chunk whole and with a correct
// CRC up to IEND; every JPEG segment whole up to the EOI marker. Both return
// the size in the first IHDR chunk or SOF segment (0 × 0 when there is none).
ClaimedSize check_png_structure(const uint8_t* b, size_t n, const std::string& what) {
    ClaimedSize claimed;
    size_t p = 8;
    while (true) {
        if (p + 12 > n) fail(what, "truncated PNG: the file ends before the IEND chunk");
        const uint32_t len = be32(b + p);
        if (len > 0x7FFFFFFFu || p + 12 + len > n)
            fail(what, "truncated PNG: a chunk of " + std::to_string(len) + " bytes runs past the end of the file");
        const uint8_t* type = b + p + 4;
        if (crc32(type, 4 + len) != be32(b + p + 8 + len))
            fail(what, "corrupt PNG: chunk '" + std::string(reinterpret_cast<const char*>(type), 4) +
                           "' at byte " + std::to_string(p) + " fails its CRC check");
        if (std::memcmp(type, "IHDR", 4) == 0 && len >= 8 && claimed.width == 0)
            claimed = {be32(b + p + 8), be32(b + p + 12)};
        if (std::memcmp(type, "IEND", 4) == 0) return claimed;
        p += 12 + len;
    }
}

// A DHT segment's tables must describe Huffman codes that exist: at most 256
// symbols, and for every length j no more codes than j bits can tell apart.
// stb_image would otherwise write past its tables.
void check_huffman_tables(const uint8_t* seg, size_t len, const std::string& what) {
    size_t q = 0;
    while (q < len) {
        if (q + 17 > len) fail(what, "corrupt JPEG: a Huffman table is cut short");
        const int table_class = seg[q] >> 4, id = seg[q] & 15;
        if (table_class > 1 || id > 3) fail(what, "corrupt JPEG: Huffman table " + std::to_string(seg[q]) + " does not exist");
        uint32_t symbols = 0, code = 0;
        for (int j = 1; j <= 16; j++) {
            const uint32_t count = seg[q + j];
            symbols += count;
            code += count;  // canonical codes of length j run up to code - 1
            if (code > (1u << j)) fail(what, "corrupt JPEG: a Huffman table has more codes than its lengths allow");
            code <<= 1;
        }
        if (symbols > 256) fail(what, "corrupt JPEG: a Huffman table has more than 256 symbols");
        q += 17 + symbols;
    }
    if (q != len) fail(what, "corrupt JPEG: a Huffman table segment has the wrong length");
}

ClaimedSize check_jpeg_structure(const uint8_t* b, size_t n, const std::string& what) {
    ClaimedSize claimed;
    size_t p = 2;  // after SOI
    while (true) {
        while (p < n && b[p] != 0xFF) p++;  // entropy-coded data after SOS
        while (p < n && b[p] == 0xFF) p++;  // fill bytes
        if (p >= n) fail(what, "truncated JPEG: the file ends before the EOI marker");
        const uint8_t marker = b[p++];
        if (marker == 0xD9) return claimed;                           // EOI
        if (marker == 0x00 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // stuffed byte, RSTn
        if (marker == 0x01) continue;                                  // TEM
        if (p + 2 > n) fail(what, "truncated JPEG: the file ends inside a marker segment");
        const size_t len = (size_t)b[p] << 8 | b[p + 1];
        if (len < 2 || p + len > n) fail(what, "truncated JPEG: a segment runs past the end of the file");
        // SOF0..SOF15 (C4, C8 and CC are other markers): length, precision, height, width
        const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof && len >= 7 && claimed.width == 0)
            claimed = {(int64_t)b[p + 5] << 8 | b[p + 6], (int64_t)b[p + 3] << 8 | b[p + 4]};
        if (marker == 0xC4) check_huffman_tables(b + p + 2, len - 2, what);
        p += len;
    }
}

std::string extension(const std::string& path) {
    const auto slash = path.find_last_of('/');
    const auto dot = path.find_last_of('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
    std::string ext = path.substr(dot + 1);
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext;
}

void check_pixel_limit(const std::string& what, int64_t w, int64_t h) {
    if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide || w * h > kMaxImagePixels)
        fail(what, std::to_string(w) + "x" + std::to_string(h) + " pixels is above the limit of " +
                       std::to_string(kMaxImageSide) + " pixels a side and " +
                       std::to_string(kMaxImagePixels / (1024 * 1024)) + " megapixels");
}

}  // namespace

DecodedImage decode_image(const uint8_t* bytes, size_t size, const std::string& what) {
    if (size == 0) fail(what, "the file is empty");
    DecodedImage img;
    ClaimedSize claimed;
    if (is_png(bytes, size)) {
        img.format = "png";
        claimed = check_png_structure(bytes, size, what);
    } else if (is_jpeg(bytes, size)) {
        img.format = "jpeg";
        claimed = check_jpeg_structure(bytes, size, what);
    } else {
        fail(what, "not a PNG or JPEG image (its first bytes match neither format)");
    }
    // stb_image refuses some oversized headers itself, with a message that does
    // not name the limit; the size the header claims is checked first.
    if (claimed.width > 0 && claimed.height > 0) check_pixel_limit(what, claimed.width, claimed.height);
    if (size > static_cast<size_t>(INT32_MAX)) fail(what, "the file is larger than 2 GB");
    const int len = static_cast<int>(size);

    int w = 0, h = 0, c = 0;
    if (!stbi_info_from_memory(bytes, len, &w, &h, &c))
        fail(what, std::string("cannot read the ") + img.format + " header (" + stbi_failure_reason() + ")");
    check_pixel_limit(what, w, h);

    unsigned char* px = stbi_load_from_memory(bytes, len, &w, &h, &c, 3);
    if (!px) fail(what, std::string("cannot decode the ") + img.format + " data (" + stbi_failure_reason() + ")");
    img.width = w;
    img.height = h;
    img.channels_in_file = c;
    img.rgb.assign(px, px + (size_t)w * h * 3);
    stbi_image_free(px);
    return img;
}

DecodedImage read_image(const std::string& path, std::string* warning) {
    const std::string what = "'" + path + "'";
    // A directory opens as a stream whose size reads as some huge number.
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail(what, "it is a directory; give a PNG or JPEG file");
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) fail(what, std::string("cannot open it (") + std::strerror(errno) + ")");
    const std::streamoff size = f.tellg();
    if (size < 0) fail(what, "cannot read its size");
    if (size > (std::streamoff)512 * 1024 * 1024) fail(what, "the file is larger than 512 MB");
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    f.seekg(0);
    if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size))
        fail(what, "cannot read it");
    DecodedImage img = decode_image(bytes.data(), bytes.size(), what);

    const std::string ext = extension(path);
    const bool ext_png = ext == "png", ext_jpeg = ext == "jpg" || ext == "jpeg";
    if (warning && ((ext_png && img.format != "png") || (ext_jpeg && img.format != "jpeg")))
        *warning = "image " + what + " is a " + img.format + " file despite its ." + ext +
                   " extension; decoded as " + img.format;
    return img;
}

}  // namespace vitrace

#include "core/tensor.h"
#include "core/workspace.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>

namespace vitrace {

int64_t numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string shape_str(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); i++) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kBigBlock = size_t{1} << 20;
constexpr size_t kPage = 4096;

int planning_depth = 0;      // > 0 while a PlanningScope lives
int64_t planned_bytes = 0;   // allocated under the current planning scope

size_t mapped_length(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

// The workspace's blocks, mapped to a whole number of huge pages (below), by
// address, with their length: free_floats must give back all of it.
std::mutex whole_pages_mutex;
std::unordered_map<void*, size_t> whole_page_blocks;

// Writes the block from both cores, a page apart: on this kind of virtual
// machine the first touch of a page is the cost, and two cores fault pages in
// nearly twice as fast as one. The bytes written are 0xFF, a float NaN, so
// that an operation that prepares its output to overwrite and leaves part of
// it unwritten gives NaNs in the tests rather than a zero that looks right.
void touch(void* p, size_t bytes) {
    char* c = static_cast<char*>(p);
    const int64_t pages = static_cast<int64_t>((bytes + kPage - 1) / kPage);
#pragma omp parallel for schedule(static) if (pages > 64)
    for (int64_t i = 0; i < pages; i++) {
        const size_t begin = static_cast<size_t>(i) * kPage;
        std::memset(c + begin, 0xFF, std::min(kPage, bytes - begin));
    }
}

}  // namespace

void* allocate_floats(size_t bytes) {
    void* p = nullptr;
    if (bytes < kBigBlock) {
        p = ::operator new(bytes);
    } else {
        // Map a little more than asked, keep the part that starts on a 2 MiB
        // boundary, give back the rest. The kernel can then back every whole
        // 2 MiB of the block with one huge page; the tail gets small pages.
        // A workspace block, planned once and reused by every pass, is mapped
        // to a whole number of huge pages instead when that adds at most an
        // eighth: Swin-T's attention matrices (1.84 MB) and qkv (3.6 MB) then
        // fault in as one or two huge pages rather than 450 and 400 small
        // ones. Rounding every block up would add 8 MB to Swin-T's 25.
        const size_t whole = (bytes + kHugePage - 1) / kHugePage * kHugePage;
        const bool whole_pages = planning_depth > 0 && whole - bytes <= whole / 8;
        const size_t length = whole_pages ? whole : mapped_length(bytes);
        void* raw = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) throw std::bad_alloc();
        const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
        const uintptr_t aligned = (begin + kHugePage - 1) / kHugePage * kHugePage;
        if (aligned > begin) munmap(raw, aligned - begin);
        const uintptr_t end = begin + length + kHugePage;
        if (end > aligned + length) munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
        p = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
        madvise(p, length, MADV_HUGEPAGE);  // a hint: where huge pages are off it changes nothing
#endif
        if (whole_pages) {
            const std::lock_guard<std::mutex> lock(whole_pages_mutex);
            whole_page_blocks[p] = length;
        }
    }
    if (planning_depth > 0) {  // touch it now, while the workspace is planned
        touch(p, bytes);
        planned_bytes += static_cast<int64_t>(bytes);
    }
    return p;
}

void free_floats(void* p, size_t bytes) noexcept {
    if (bytes < kBigBlock) {
        ::operator delete(p);
        return;
    }
    size_t length = mapped_length(bytes);
    {
        const std::lock_guard<std::mutex> lock(whole_pages_mutex);
        if (auto it = whole_page_blocks.find(p); it != whole_page_blocks.end()) {
            length = it->second;
            whole_page_blocks.erase(it);
        }
    }
    munmap(p, length);
}

PlanningScope::PlanningScope() {
    if (planning_depth++ == 0) planned_bytes = 0;
}
PlanningScope::~PlanningScope() { planning_depth--; }
int64_t PlanningScope::bytes() const { return planned_bytes; }
bool planning_workspace() { return planning_depth > 0; }

Tensor Tensor::zeros(Shape shape) {
    Tensor t;
    t.data.assign(vitrace::numel(shape), 0.0f);
    t.shape = std::move(shape);
    return t;
}

Tensor Tensor::shape_only(Shape shape) {
    Tensor t;
    t.shape = std::move(shape);
    return t;
}

Tensor Tensor::from(Shape shape, std::vector<float> values) {
    if (static_cast<int64_t>(values.size()) != vitrace::numel(shape))
        throw Error(ErrorKind::Internal, "Tensor::from: " + std::to_string(values.size()) +
                                             " values for shape " + shape_str(shape));
    Tensor t;
    t.shape = std::move(shape);
    t.data.assign(values.begin(), values.end());
    return t;
}

namespace {

// prepare's and prepare_to_overwrite's shared part; `zero` says whether what
// the buffer gains is zeroed.
bool prepare_buffer(Tensor& out, const Shape& shape, const Tensor& like, bool zero) {
    out.shape = shape;
    if (!like.has_data()) {
        if (planning_depth > 0) out.data.reserve(vitrace::numel(shape));
        out.data.clear();
        return false;
    }
    if (zero)
        out.data.resize(vitrace::numel(shape), 0.0f);
    else
        out.data.resize(vitrace::numel(shape));  // BigPageAllocator leaves the new floats unset
    return true;
}

}  // namespace

bool prepare(Tensor& out, const Shape& shape, const Tensor& like) { return prepare_buffer(out, shape, like, true); }

bool prepare_to_overwrite(Tensor& out, const Shape& shape, const Tensor& like) {
    return prepare_buffer(out, shape, like, false);
}

}  // namespace vitrace

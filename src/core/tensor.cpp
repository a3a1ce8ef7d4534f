#include "core/tensor.h"
#include "core/workspace.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define VITRACE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VITRACE_ASAN 1
#endif
#endif
#ifdef VITRACE_ASAN
#include <sanitizer/asan_interface.h>
#endif

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
int arena_depth = 0;         // > 0 while an ArenaScope lives
int64_t planned_bytes = 0;   // allocated under the current planning scope
Workspace* planned_workspace = nullptr;  // the outermost scope's workspace
std::vector<Floats*> planned_buffers;    // its tensors' floats, in the order first planned

size_t round_up(size_t bytes, size_t to) { return (bytes + to - 1) / to * to; }

// Maps `length` bytes that start on a 2 MiB boundary, offered to the kernel as
// huge pages: map a little more than asked, keep the part that starts on the
// boundary, give back the rest.
void* map_huge_aligned(size_t length) {
    void* raw = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = round_up(begin, kHugePage);
    if (aligned > begin) munmap(raw, aligned - begin);
    const uintptr_t end = begin + length + kHugePage;
    if (end > aligned + length) munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
    void* p = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
    madvise(p, length, MADV_HUGEPAGE);  // a hint: where huge pages are off it changes nothing
#endif
    return p;
}

// The arenas. Every block allocated while a workspace is planned is
// cut from one mapping, instead of from a mapping or a heap block of its own:
// the forward pass's buffers then lie side by side in as few 2 MiB pages as
// they fill, and Swin-T's 22 MB fault in as 11 huge pages rather than as
// thousands of small ones. Planning ends by touching the blocks still alive,
// from both cores. A block freed while the plan is made (a temporary, or a
// buffer that grew) leaves a gap, which the next block that fits reuses:
// nothing is touched before planning ends, so a gap costs nothing unless it
// lies between blocks in one huge page. The mapping is unmapped when its last
// block is freed.
//
// An ArenaScope's blocks (a model's weights, the input's tensors) have arenas
// of their own: cut the same way, and left for whoever writes them to touch.
// Each 4 KiB page a weight took on its own cost a fault (Swin-T's weights took
// about 7,700 of them), and freeing the model took an unmapping per weight; in
// an arena both are per 2 MiB, and one unmapping.
constexpr size_t kArenaChunk = size_t{64} << 20;  // mapped, not touched: costs address space only
constexpr size_t kArenaAlign = 64;                // a cache line; an AVX-512 vector

// Under AddressSanitizer every block is followed by a poisoned line, and the
// arena's uncut and freed parts are poisoned, so that a loop that runs past its
// buffer is caught here as it would be on the heap.
#ifdef VITRACE_ASAN
constexpr size_t kRedZone = kArenaAlign;
void poison(void* p, size_t bytes) { ASAN_POISON_MEMORY_REGION(p, bytes); }
void unpoison(void* p, size_t bytes) { ASAN_UNPOISON_MEMORY_REGION(p, bytes); }
#else
constexpr size_t kRedZone = 0;
void poison(void*, size_t) {}
void unpoison(void*, size_t) {}
#endif

// The bytes a block of `bytes` takes in the arena.
size_t cut_length(size_t bytes) { return round_up(std::max<size_t>(bytes, 1), kArenaAlign) + kRedZone; }

struct Arena {
    char* base = nullptr;
    size_t length = 0;   // mapped
    size_t used = 0;     // cut so far: the blocks and gaps lie below
    int64_t blocks = 0;  // alive
    bool open = true;    // still cut from: while the scope that made it lives
    bool planned = true;  // a planned workspace's; else an ArenaScope's, whose blocks are not touched here
    std::map<size_t, size_t> gaps;  // offset -> length, below `used`, no two adjacent

    // Cuts `length` bytes: from the smallest gap that holds them, else from the end. -1 when they do not fit.
    int64_t cut(size_t length) {
        auto best = gaps.end();
        for (auto it = gaps.begin(); it != gaps.end(); ++it)
            if (it->second >= length && (best == gaps.end() || it->second < best->second)) best = it;
        if (best != gaps.end()) {
            const size_t offset = best->first, rest = best->second - length;
            gaps.erase(best);
            if (rest > 0) gaps[offset + length] = rest;
            return static_cast<int64_t>(offset);
        }
        if (used + length > this->length) return -1;
        used += length;
        return static_cast<int64_t>(used - length);
    }

    // Gives back [offset, offset + length): joins it to the gaps beside it, and
    // to the uncut end when it reaches `used`.
    void give_back(size_t offset, size_t length) {
        auto next = gaps.lower_bound(offset);
        if (next != gaps.end() && offset + length == next->first) {
            length += next->second;
            next = gaps.erase(next);
        }
        if (next != gaps.begin()) {
            auto prev = std::prev(next);
            if (prev->first + prev->second == offset) {
                offset = prev->first;
                length += prev->second;
                gaps.erase(prev);
            }
        }
        if (offset + length == used)
            used = offset;
        else
            gaps[offset] = length;
    }
};
std::mutex arenas_mutex;
std::vector<Arena> arenas;
std::vector<std::pair<char*, size_t>> planned_blocks;  // cut under the current scope and alive: touched at its end

// Cuts a block from the open arena of the kind asked for (the planned
// workspace's, or an ArenaScope's), or from a new one when it does not fit.
void* arena_allocate(size_t bytes, bool planned) {
    const std::lock_guard<std::mutex> lock(arenas_mutex);
    const size_t length = cut_length(bytes);
    Arena* arena = nullptr;
    for (Arena& a : arenas)
        if (a.open && a.planned == planned) arena = &a;
    int64_t offset = arena ? arena->cut(length) : -1;
    if (offset < 0) {
        if (arena) arena->open = false;  // what is left of it stays uncut
        const size_t mapped = std::max(kArenaChunk, round_up(length, kHugePage));
        arena = &arenas.emplace_back();
        arena->base = static_cast<char*>(map_huge_aligned(mapped));
        arena->length = mapped;
        arena->planned = planned;
        poison(arena->base, mapped);
        offset = arena->cut(length);
    }
    char* p = arena->base + offset;
    arena->blocks++;
    unpoison(p, bytes);
    if (planned) planned_blocks.emplace_back(p, bytes);
    return p;
}

// Gives p back if an arena holds it; false if none does.
bool arena_free(void* p, size_t bytes) {
    const std::lock_guard<std::mutex> lock(arenas_mutex);
    char* c = static_cast<char*>(p);
    for (size_t i = 0; i < arenas.size(); i++) {
        Arena& a = arenas[i];
        if (c < a.base || c >= a.base + a.length) continue;
        poison(c, bytes);
        // A block of an arena that filled up during the plan is no longer
        // touched either; only the open arena takes its space back.
        auto it = std::find(planned_blocks.begin(), planned_blocks.end(), std::make_pair(c, bytes));
        if (it != planned_blocks.end()) planned_blocks.erase(it);
        // A block of a closed arena keeps its pages until the blocks beside
        // it go too: a model, or a workspace, is freed as a whole, with one
        // unmapping rather than a call per block.
        if (a.open) a.give_back(static_cast<size_t>(c - a.base), cut_length(bytes));
        if (--a.blocks == 0 && !a.open) {
            unpoison(a.base, a.length);
            munmap(a.base, a.length);
            arenas.erase(arenas.begin() + static_cast<std::ptrdiff_t>(i));
        }
        return true;
    }
    return false;
}

// Writes the planned blocks from both cores, a page at a time: on this kind of
// virtual machine the first touch of a page is the cost, and two cores fault
// pages in nearly twice as fast as one. The bytes written are 0xFF, a float
// NaN, so that an operation that prepares its output to overwrite and leaves
// part of it unwritten gives NaNs in the tests rather than a zero that looks right.
void touch_planned_blocks() {
    std::vector<std::pair<char*, size_t>> pieces;  // at most a page each
    for (const auto& [p, bytes] : planned_blocks)
        for (size_t begin = 0; begin < bytes; begin += kPage) pieces.emplace_back(p + begin, std::min(kPage, bytes - begin));
    const int64_t n = static_cast<int64_t>(pieces.size());
#pragma omp parallel for schedule(static) if (n > 64)
    for (int64_t i = 0; i < n; i++) std::memset(pieces[i].first, 0xFF, pieces[i].second);
}

void close_arenas() {
    const std::lock_guard<std::mutex> lock(arenas_mutex);
    // What the pass touched past the last block (a computed tensor, where it
    // was before the blocks were laid out again) goes back first.
    for (Arena& a : arenas) {
        const size_t keep = round_up(a.used, kHugePage);
        if (a.open && a.planned && keep < a.length) madvise(a.base + keep, a.length - keep, MADV_DONTNEED);
    }
    touch_planned_blocks();
    planned_blocks.clear();
    for (size_t i = arenas.size(); i-- > 0;) {
        if (!arenas[i].planned) continue;  // an ArenaScope's, still open while that scope lives
        arenas[i].open = false;
        if (arenas[i].blocks == 0) {
            unpoison(arenas[i].base, arenas[i].length);
            munmap(arenas[i].base, arenas[i].length);
            arenas.erase(arenas.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }
}

// Closes the ArenaScope's arenas when the last one ends: the next scope starts
// a mapping of its own, and an arena with no block left is unmapped.
void close_scope_arenas() {
    const std::lock_guard<std::mutex> lock(arenas_mutex);
    for (size_t i = arenas.size(); i-- > 0;) {
        if (arenas[i].planned) continue;
        arenas[i].open = false;
        if (arenas[i].blocks == 0) {
            unpoison(arenas[i].base, arenas[i].length);
            munmap(arenas[i].base, arenas[i].length);
            arenas.erase(arenas.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }
}

}  // namespace

void* allocate_floats(size_t bytes) {
    if (planning_depth > 0) {
        planned_bytes += static_cast<int64_t>(bytes);
        return arena_allocate(bytes, true);
    }
    if (arena_depth > 0) return arena_allocate(bytes, false);
    if (bytes < kBigBlock) return ::operator new(bytes);
    // A big block is aligned to 2 MiB: the kernel can then back every whole
    // 2 MiB of it with one huge page; the tail gets small pages.
    return map_huge_aligned(round_up(bytes, kPage));
}

void free_floats(void* p, size_t bytes) noexcept {
    if (arena_free(p, bytes)) return;
    if (bytes < kBigBlock)
        ::operator delete(p);
    else
        munmap(p, round_up(bytes, kPage));
}

PlanningScope::PlanningScope(Workspace* workspace) {
    if (planning_depth++ == 0) {
        planned_bytes = 0;
        planned_workspace = workspace;
        planned_buffers.clear();
    }
}

PlanningScope::~PlanningScope() {
    if (planning_depth > 1) {
        planning_depth--;
        return;
    }
    // A buffer that grew while the plan was made (Swin's `hidden` holds the
    // patches before the MLP's hidden layer) left a gap where it was first
    // cut. Free every planned buffer's block, then cut them again in the
    // order they were first planned, each at the size it ended with: they
    // then lie side by side. The values a tensor computed in the pass holds
    // are kept (the forward passes compute none in a shape-only pass; a
    // caller may).
    std::vector<std::pair<size_t, std::vector<float>>> kept(planned_buffers.size());
    for (size_t i = 0; i < planned_buffers.size(); i++) {
        Floats& data = *planned_buffers[i];
        kept[i] = {data.capacity(), std::vector<float>(data.begin(), data.end())};
        Floats().swap(data);
    }
    for (size_t i = 0; i < planned_buffers.size(); i++) planned_buffers[i]->reserve(kept[i].first);
    planning_depth = 0;
    close_arenas();  // touches them
    for (size_t i = 0; i < planned_buffers.size(); i++)
        planned_buffers[i]->assign(kept[i].second.begin(), kept[i].second.end());
    planned_buffers.clear();
    planned_workspace = nullptr;
}
int64_t PlanningScope::bytes() const { return planned_bytes; }

ArenaScope::ArenaScope() { arena_depth++; }
ArenaScope::~ArenaScope() {
    if (--arena_depth == 0) close_scope_arenas();
}

namespace {

// Plans t's floats if t belongs to the workspace being planned: they are laid
// out again with the others when the planning scope ends.
void note_planned(Tensor& t) {
    if (planning_depth == 0 || !planned_workspace || !planned_workspace->holds(&t)) return;
    if (std::find(planned_buffers.begin(), planned_buffers.end(), &t.data) == planned_buffers.end())
        planned_buffers.push_back(&t.data);
}

}  // namespace

Tensor Tensor::zeros(Shape shape) {
    Tensor t;
    t.data.assign(vitrace::numel(shape), 0.0f);
    t.shape = std::move(shape);
    return t;
}

void assign_zeros(Tensor& out, const Shape& shape) {
    note_planned(out);
    out.shape = shape;
    out.data.assign(vitrace::numel(shape), 0.0f);
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
    note_planned(out);
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

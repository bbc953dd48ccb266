// internal::SharedList<T>: the copy-on-write list a Snapshot's checks and
// groups are kept in. Not part of vigil's API: a Snapshot's users iterate
// its `checks` and `groups` (range-for, operator[], size()) and never name
// the type; the registry builds them.

#ifndef VIGIL_HEALTH_INTERNAL_SHARED_LIST_H_
#define VIGIL_HEALTH_INTERNAL_SHARED_LIST_H_

#include <cstddef>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

namespace vigil {
namespace internal {

// A read-only, random-access list of T whose elements are shared (by
// shared_ptr) between successive snapshots. The pointers are held in
// fixed-size chunks (kChunkSize) that are themselves shared: copying a list
// copies one pointer per chunk, and Set() copies only the chunk it changes,
// so publishing a snapshot in which one check changed costs O(n / kChunkSize
// + kChunkSize) instead of O(n). Iterates as `const T&`.
template <typename T>
class SharedList {
  using Chunk = std::vector<std::shared_ptr<const T>>;

 public:
  static constexpr size_t kChunkSize = 64;

  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;

    const_iterator() = default;
    reference operator*() const { return (*list_)[i_]; }
    pointer operator->() const { return &(*list_)[i_]; }
    reference operator[](difference_type n) const { return (*list_)[i_ + n]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) { return const_iterator(list_, i_++); }
    const_iterator& operator--() {
      --i_;
      return *this;
    }
    const_iterator operator--(int) { return const_iterator(list_, i_--); }
    const_iterator& operator+=(difference_type n) {
      i_ += n;
      return *this;
    }
    const_iterator& operator-=(difference_type n) {
      i_ -= n;
      return *this;
    }
    friend const_iterator operator+(const_iterator a, difference_type n) {
      return a += n;
    }
    friend const_iterator operator+(difference_type n, const_iterator a) {
      return a += n;
    }
    friend const_iterator operator-(const_iterator a, difference_type n) {
      return a -= n;
    }
    friend difference_type operator-(const const_iterator& a,
                                     const const_iterator& b) {
      return static_cast<difference_type>(a.i_) -
             static_cast<difference_type>(b.i_);
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.i_ == b.i_;
    }
    friend bool operator!=(const const_iterator& a, const const_iterator& b) {
      return a.i_ != b.i_;
    }
    friend bool operator<(const const_iterator& a, const const_iterator& b) {
      return a.i_ < b.i_;
    }
    friend bool operator>(const const_iterator& a, const const_iterator& b) {
      return a.i_ > b.i_;
    }
    friend bool operator<=(const const_iterator& a, const const_iterator& b) {
      return a.i_ <= b.i_;
    }
    friend bool operator>=(const const_iterator& a, const const_iterator& b) {
      return a.i_ >= b.i_;
    }

   private:
    friend class SharedList;
    const_iterator(const SharedList* list, size_t i) : list_(list), i_(i) {}
    const SharedList* list_ = nullptr;
    size_t i_ = 0;
  };
  using value_type = T;
  using iterator = const_iterator;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T& operator[](size_t i) const { return *shared(i); }
  const T& front() const { return (*this)[0]; }
  const T& back() const { return (*this)[size_ - 1]; }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size_); }

  // Building (for whoever assembles a snapshot, including tests).
  void reserve(size_t n) { chunks_.reserve((n + kChunkSize - 1) / kChunkSize); }
  void push_back(T value) {
    push_back(std::make_shared<const T>(std::move(value)));
  }
  void push_back(std::shared_ptr<const T> shared) {
    if (size_ % kChunkSize == 0) {
      auto chunk = std::make_shared<Chunk>();
      chunk->reserve(kChunkSize);
      chunks_.push_back(std::move(chunk));
    }
    MutableChunk(size_ / kChunkSize).push_back(std::move(shared));
    ++size_;
  }
  // Replaces the element at `i` (i < size()). Lists this one was copied from
  // or to keep their element: only this list's chunk holding `i` is copied
  // (if shared), every other chunk stays shared.
  void Set(size_t i, std::shared_ptr<const T> shared) {
    MutableChunk(i / kChunkSize)[i % kChunkSize] = std::move(shared);
  }
  // The shared element at `i`, for reuse in a later snapshot.
  const std::shared_ptr<const T>& shared(size_t i) const {
    return (*chunks_[i / kChunkSize])[i % kChunkSize];
  }

 private:
  // Chunk `c`, first copied if another list (a published snapshot) shares
  // it. A use count of one cannot grow behind our back, since only this list
  // holds the chunk; the throwaway copy is an acquire-release operation on
  // the count, ordering our writes after the reads of whichever other holder
  // (on another thread) released it last.
  Chunk& MutableChunk(size_t c) {
    std::shared_ptr<Chunk>& chunk = chunks_[c];
    if (chunk.use_count() == 1) {
      std::shared_ptr<Chunk>(chunk).reset();
    } else {
      auto copy = std::make_shared<Chunk>();
      copy->reserve(kChunkSize);
      copy->assign(chunk->begin(), chunk->end());
      chunk = std::move(copy);
    }
    return *chunk;
  }

  std::vector<std::shared_ptr<Chunk>> chunks_;
  size_t size_ = 0;
};

}  // namespace internal
}  // namespace vigil

#endif  // VIGIL_HEALTH_INTERNAL_SHARED_LIST_H_

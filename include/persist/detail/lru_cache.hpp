// persist/detail/lru_cache.hpp: a small least-recently-used map from SQL text to a value,
// for the prepared statements of one connection (SQLite handles, PostgreSQL statement names).
//
// Lookups take a string_view and build no std::string; the entry used last is checked first
// by one comparison (loops and typed operations repeat the same statement). Thread-safety:
// none; a cache belongs to one connection, which one thread uses at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace persist::detail {

template <class Value>
class LruCache {
public:
    /// A cache of at most `capacity` entries (at least 1).
    explicit LruCache(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}
    LruCache(const LruCache&) = delete;
    LruCache& operator=(const LruCache&) = delete;

    /// The value of `key`, now the most recently used; nullptr when absent.
    Value* find(std::string_view key) {
        if (!entries_.empty() && entries_.front().key == key) return &entries_.front().value;
        const auto found = index_.find(key);
        if (found == index_.end()) return nullptr;
        entries_.splice(entries_.begin(), entries_, found->second);
        return &found->second->value;
    }

    /// Adds `key` (which must be absent) as the most recently used. When the cache was full,
    /// the least recently used entry leaves it and is returned, for the caller to dispose of.
    std::optional<std::pair<std::string, Value>> insert(std::string key, Value value) {
        std::optional<std::pair<std::string, Value>> evicted;
        if (entries_.size() >= capacity_) {
            index_.erase(std::string_view(entries_.back().key));
            evicted.emplace(std::move(entries_.back().key), std::move(entries_.back().value));
            entries_.pop_back();
        }
        entries_.push_front(Entry{std::move(key), std::move(value)});
        index_.emplace(std::string_view(entries_.front().key), entries_.begin());
        return evicted;
    }

    /// Removes `key` if present.
    void erase(std::string_view key) {
        const auto found = index_.find(key);
        if (found == index_.end()) return;
        const auto position = found->second;
        index_.erase(found);
        entries_.erase(position);
    }

    /// Removes every entry (their values are destroyed, most recently used first).
    void clear() noexcept {
        index_.clear();
        entries_.clear();
    }

    std::size_t size() const noexcept { return entries_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }

private:
    struct Entry {
        std::string key;
        Value value;
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
    };
    std::size_t capacity_;
    std::list<Entry> entries_; // most recently used first; the index points into it
    std::unordered_map<std::string_view, typename std::list<Entry>::iterator, Hash, std::equal_to<>> index_;
};

} // namespace persist::detail

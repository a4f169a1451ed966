// persist/detail/group_commit.hpp: group commit. Write transactions that arrive while
// another is running join it, so that one COMMIT (one fsync at Durability::full) serves all
// of them.
//
// The first writer (the leader) opens the backend's transaction and runs its function; then
// it runs the functions of the writers that queued meanwhile (members) on its transaction,
// each inside a savepoint of its own, and commits. Members' functions run on the leader's
// thread: handing the transaction from thread to thread cost more than the fsync saved (two
// thread wake-ups per member, tens of microseconds each on a busy 2-core machine). So:
// - a member whose function throws is rolled back alone, and gets its exception;
// - no member returns before the COMMIT that holds its writes returned: acknowledged means
//   durable, as without grouping;
// - a COMMIT that fails with an unknown outcome is reported to every member as
//   commit_outcome_unknown; one that surely committed nothing makes every member run again,
//   as a busy database does;
// - if the backend ends the shared transaction by itself (SQLite rolls back everything on
//   some errors), the writers whose work it held run again.
// The price is latency: a member waits for the members after it in its group and for the
// COMMIT, where alone it would wait only for the writes before it.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include "persist/error.hpp"

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

namespace persist::detail {

/// A backend write session that writes of other threads can join (sqlite::Backend's).
template <class S>
concept GroupableSession = requires(S& session) {
    /// Whether others may join now: the transaction is open and holds nothing that would make
    /// the shared COMMIT fail (an unresolved deferred constraint).
    { session.shareable() } -> std::same_as<bool>;
    /// Whether the backend's transaction is still open (it may end it on some errors).
    { session.transaction_open() } -> std::same_as<bool>;
    session.begin_member();    // a savepoint for the next member
    session.finish_member();   // release it, or roll it back and throw what COMMIT would
    session.rollback_member(); // roll it back (noexcept)
    session.transaction();
};

/// The group-commit queue of one Store.
template <class Session>
class GroupCommit {
public:
    using Transaction = std::remove_reference_t<decltype(std::declval<Session&>().transaction())>;

    /// Most members in one group besides the leader, so a group ends.
    static constexpr std::size_t max_members = 64;

    /// One writer waiting to join, or joined.
    struct Member {
        enum class Outcome {
            pending,
            committed, ///< its writes are committed
            failed,    ///< `failure` says why: its own function's exception, or the COMMIT's
            rerun,     ///< nothing of it was committed, through no fault of its own
        };
        /// Runs the member's function on the transaction (called by the leader's thread).
        void (*run)(void* context, Transaction& transaction) = nullptr;
        void* context = nullptr;
        bool picked = false;  ///< the leader is running it: it must wait for the outcome
        bool dropped = false; ///< the group ended before its turn: it starts or joins another
        Outcome outcome = Outcome::pending;
        std::exception_ptr failure;
        std::condition_variable wake; ///< for its drop and its outcome
    };

    enum class Role { leader, member };

    /// Enters the queue. Returns leader when no group is open: the caller opens the
    /// transaction, runs its function and calls serve() then one finish_...(), or abandon()
    /// if it fails before serve(). Returns member once `me` ran in a group and its outcome is
    /// known. `on_queue` is called once, unlocked, when `me` waits in a group's queue.
    /// Throws busy_error when `deadline` passes before `me` ran (never once it ran).
    template <class OnQueue>
    Role enter(Member& me, std::chrono::steady_clock::time_point deadline, OnQueue&& on_queue) {
        std::unique_lock lock(mutex_);
        bool announced = false;
        for (;;) {
            if (state_ == State::idle) {
                state_ = State::open;
                return Role::leader;
            }
            if (state_ == State::open && queue_.size() < max_members) {
                me.dropped = false;
                queue_.push_back(&me);
                arrived_.notify_one();
                if (!announced) {
                    announced = true;
                    lock.unlock();
                    on_queue();
                    lock.lock();
                }
                const auto decided = [&] { return me.outcome != Member::Outcome::pending || me.dropped; };
                if (!me.wake.wait_until(lock, deadline, decided) && !me.picked) {
                    std::erase(queue_, &me);
                    throw busy_error("the write transaction of another thread of this process, which this write was "
                                     "waiting to join (group commit), did not reach it before the deadline");
                }
                me.wake.wait(lock, decided); // it ran: only the outcome ends the wait
                if (me.outcome != Member::Outcome::pending) return Role::member;
                continue; // the group ended without it: start or join the next one
            }
            // A group is committing (or full): wait for the next one.
            const auto generation = generation_;
            ++waiting_;
            const bool woken = next_group_.wait_until(lock, deadline, [&] { return generation_ != generation; });
            --waiting_;
            if (arriving_ > 0) {
                --arriving_;
                arrived_.notify_one();
            }
            if (!woken)
                throw busy_error("the write transactions of other threads of this process held the writer until the deadline");
        }
    }

    /// Leader: its function succeeded; runs the queued members' functions on `session`, each
    /// in a savepoint, then closes the group to newcomers. A member whose function throws is
    /// rolled back and told at once. Returns whether the transaction is still open (false: the
    /// backend ended it, and finish_rerun() must follow).
    bool serve(Session& session) {
        std::unique_lock lock(mutex_);
        while (session.shareable()) {
            if (queue_.empty()) {
                // The writers woken for this group are on their way: let them join it.
                if (arriving_ == 0) break;
                arrived_.wait(lock);
                continue;
            }
            Member* next = queue_.front();
            queue_.pop_front();
            next->picked = true;
            lock.unlock();
            std::exception_ptr own;
            try {
                session.begin_member();
                next->run(next->context, session.transaction());
                session.finish_member();
            } catch (...) {
                session.rollback_member();
                own = std::current_exception();
            }
            lock.lock();
            if (own) {
                next->failure = std::move(own);
                next->outcome = Member::Outcome::failed;
                next->wake.notify_one();
            } else {
                served_.push_back(next);
            }
        }
        state_ = State::committing;
        return session.transaction_open();
    }

    /// Leader: the COMMIT returned; every served member committed.
    void finish_committed() { finish(Member::Outcome::committed, nullptr); }
    /// Leader: the COMMIT failed with an unknown outcome (`failure`), for every served member.
    void finish_unknown(std::exception_ptr failure) { finish(Member::Outcome::failed, std::move(failure)); }
    /// Leader: nothing of the group was committed; its members run again.
    void finish_rerun() { finish(Member::Outcome::rerun, nullptr); }

    /// Leader: it failed before serve(); the queued members start or join another group.
    void abandon() noexcept {
        std::lock_guard lock(mutex_);
        drop_queue();
        next_group();
    }

private:
    enum class State { idle, open, committing };

    void finish(typename Member::Outcome outcome, std::exception_ptr failure) {
        std::lock_guard lock(mutex_);
        for (Member* member : served_) {
            member->outcome = outcome;
            member->failure = failure;
            member->wake.notify_one();
        }
        served_.clear();
        drop_queue(); // left by serve() when the transaction ended
        next_group();
    }

    void next_group() noexcept {
        state_ = State::idle;
        ++generation_;
        arriving_ = waiting_;
        next_group_.notify_all();
    }

    void drop_queue() noexcept {
        for (Member* waiting : queue_) {
            waiting->dropped = true;
            waiting->wake.notify_one();
        }
        queue_.clear();
    }

    // Each waiter has a condition variable of its own, so that a hand-over wakes one thread.
    std::mutex mutex_;
    std::condition_variable next_group_; // writers waiting for the next group
    std::condition_variable arrived_;    // the leader, waiting for those writers to queue
    std::size_t waiting_ = 0;            // writers waiting for the next group
    std::size_t arriving_ = 0;           // writers woken for this group that have not entered it yet
    State state_ = State::idle;
    std::uint64_t generation_ = 0;
    std::deque<Member*> queue_;
    std::vector<Member*> served_; // joined, waiting for the outcome
};

/// Stands in for GroupCommit in a Store whose backend cannot group writes.
struct NoGroupCommit {};

} // namespace persist::detail

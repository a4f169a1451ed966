// persist/detail/process.hpp: this process's id without a system call.
//
// glibc stopped caching getpid() in 2.25, so each call enters the kernel (~100 ns on a VM
// with speculation mitigations). persist checks the pid on every transaction and lock (to
// notice a fork), so it keeps its own copy, refreshed in the child by a pthread_atfork
// handler. A child made by a raw clone() or syscall(SYS_fork) bypasses the handler; persist
// does not support using a Store across those.
#pragma once

#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

namespace persist::detail {

class ProcessId {
public:
    static pid_t get() noexcept { return instance().pid_; }

private:
    ProcessId() noexcept : pid_(::getpid()) { ::pthread_atfork(nullptr, nullptr, &refresh); }
    static ProcessId& instance() noexcept {
        static ProcessId process;
        return process;
    }
    static void refresh() noexcept { instance().pid_ = ::getpid(); }
    pid_t pid_;
};

/// getpid(), from a copy kept current across fork().
inline pid_t current_pid() noexcept { return ProcessId::get(); }

} // namespace persist::detail

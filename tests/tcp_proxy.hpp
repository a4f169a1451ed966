// A TCP proxy for PostgreSQL fault tests: listens on 127.0.0.1 (a port the kernel picks) and
// relays each connection to the throwaway server's unix socket, so libpq talks TCP with
// its keepalives and timeouts while the server needs no TCP listener. Faults on request:
//   hang()            stop relaying in both directions, sockets left open (a hung middlebox);
//                     new connections are accepted and never relayed
//   cut()             close every relayed connection now
//   cut_after_commit(n)   for the next n COMMITs: relay the COMMIT to the server, then close
//                     that connection before the answer can come back
//   hang_after_commit()   relay the next COMMIT, then stop relaying that connection's answers
// One thread runs a poll() loop; the destructor stops it and closes everything.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace test {

class TcpProxy {
public:
    /// Relays to the unix socket `socket_path` (e.g. <dir>/.s.PGSQL.<port>).
    explicit TcpProxy(std::string socket_path) : target_(std::move(socket_path)) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listener_ < 0) throw std::runtime_error("proxy: socket failed");
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 64) != 0)
            throw std::runtime_error("proxy: bind/listen failed");
        socklen_t length = sizeof address;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        if (::pipe(wake_) != 0) throw std::runtime_error("proxy: pipe failed");
        thread_ = std::thread([this] { loop(); });
    }
    TcpProxy(const TcpProxy&) = delete;
    TcpProxy& operator=(const TcpProxy&) = delete;
    ~TcpProxy() {
        stop_ = true;
        poke();
        thread_.join();
        for (auto& pair : pairs_) close_pair(pair);
        ::close(listener_);
        ::close(wake_[0]);
        ::close(wake_[1]);
    }

    int port() const noexcept { return port_; }

    void hang() { set([&] { hung_ = true; }); }
    void resume() { set([&] { hung_ = false; }); }
    void cut() { set([&] { cut_now_ = true; }); }
    void cut_after_commit(int count) { set([&] { cut_commits_ = count; }); }
    void hang_after_commit() { set([&] { hang_commit_ = true; }); }
    /// Cuts the next connection that sends the simple query `text` exactly (e.g. psql's
    /// "COMMIT;"), right after relaying it.
    void cut_after_query(const std::string& text) {
        set([&] {
            const auto length = static_cast<std::uint32_t>(4 + text.size() + 1);
            cut_query_ = std::string(1, 'Q') + char(length >> 24) + char((length >> 16) & 0xff) +
                         char((length >> 8) & 0xff) + char(length & 0xff) + text + '\0';
        });
    }

    /// Connections cut after their COMMIT was relayed, so far.
    int commits_cut() const noexcept { return commits_cut_.load(); }

private:
    struct Pair {
        int client = -1;
        int server = -1;
        bool frozen = false; // relays nothing more (hang_after_commit)
    };

    template <class Change>
    void set(Change change) {
        {
            std::lock_guard lock(mutex_);
            change();
        }
        poke();
    }
    void poke() {
        const char byte = 1;
        (void)!::write(wake_[1], &byte, 1);
    }

    int connect_target() const {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, target_.c_str(), sizeof address.sun_path - 1);
        if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
        if (fd >= 0) ::close(fd);
        return -1;
    }

    static void close_pair(Pair& pair) {
        if (pair.client >= 0) ::close(pair.client);
        if (pair.server >= 0) ::close(pair.server);
        pair.client = pair.server = -1;
    }

    // Relays what `from` has to `to`; false when either side is closed. A chunk from the
    // client holding a COMMIT may arm a cut or a freeze of this pair (after relaying it).
    bool relay(Pair& pair, bool from_client) {
        char buffer[65536];
        const int from = from_client ? pair.client : pair.server;
        const int to = from_client ? pair.server : pair.client;
        const ssize_t got = ::read(from, buffer, sizeof buffer);
        if (got <= 0) return false;
        for (ssize_t sent = 0; sent < got;) {
            const ssize_t n = ::write(to, buffer + sent, static_cast<std::size_t>(got - sent));
            if (n <= 0) return false;
            sent += n;
        }
        // A simple-query message holding exactly "COMMIT": 'Q', length 11, the text, NUL.
        static constexpr char commit[] = {'Q', 0, 0, 0, 11, 'C', 'O', 'M', 'M', 'I', 'T', 0};
        if (from_client) {
            std::lock_guard lock(mutex_);
            if (!cut_query_.empty() && std::string_view(buffer, static_cast<std::size_t>(got)).find(cut_query_) != std::string_view::npos) {
                cut_query_.clear();
                ++commits_cut_;
                return false;
            }
        }
        if (from_client && std::string_view(buffer, static_cast<std::size_t>(got)).find(std::string_view(commit, sizeof commit)) !=
                               std::string_view::npos) {
            std::lock_guard lock(mutex_);
            if (cut_commits_ > 0) {
                --cut_commits_;
                ++commits_cut_;
                return false;
            }
            if (hang_commit_) {
                hang_commit_ = false;
                pair.frozen = true;
            }
        }
        return true;
    }

    void loop() {
        while (!stop_) {
            bool hung = false;
            {
                std::lock_guard lock(mutex_);
                hung = hung_;
                if (cut_now_) {
                    for (auto& pair : pairs_) close_pair(pair);
                    pairs_.clear();
                    cut_now_ = false;
                }
            }
            std::vector<pollfd> wanted{{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
            if (!hung)
                for (const auto& pair : pairs_)
                    if (!pair.frozen) {
                        wanted.push_back(pollfd{pair.client, POLLIN, 0});
                        wanted.push_back(pollfd{pair.server, POLLIN, 0});
                    }
            if (::poll(wanted.data(), wanted.size(), 1000) <= 0) continue;
            if (wanted[0].revents) {
                char drain[64];
                (void)!::read(wake_[0], drain, sizeof drain);
            }
            if (wanted[1].revents & POLLIN) {
                const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
                if (client >= 0) {
                    const int server = connect_target();
                    if (server < 0) ::close(client);
                    else pairs_.push_back({client, server, hung}); // accepted while hung: never relayed
                }
            }
            for (std::size_t i = 2; i < wanted.size(); ++i) {
                if (!wanted[i].revents) continue;
                for (auto& pair : pairs_) {
                    if (pair.client != wanted[i].fd && pair.server != wanted[i].fd) continue;
                    if (!relay(pair, pair.client == wanted[i].fd)) close_pair(pair);
                    break;
                }
            }
            std::erase_if(pairs_, [](const Pair& pair) { return pair.client < 0; });
        }
    }

    std::string target_;
    int listener_ = -1;
    int port_ = 0;
    int wake_[2] = {-1, -1};
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    bool hung_ = false;
    bool cut_now_ = false;
    int cut_commits_ = 0;
    bool hang_commit_ = false;
    std::string cut_query_; // a whole simple-query message; empty: none armed
    std::atomic<int> commits_cut_{0};
    std::vector<Pair> pairs_; // the loop's thread only (and the destructor, after it ended)
};

} // namespace test

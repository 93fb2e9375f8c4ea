#include "cplb/proxy/proxy.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <chrono>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <utility>

#include "cplb/core/log.hpp"
#include "socket_options.hpp"
#include "worker.hpp"

namespace cplb::proxy {

namespace {

/// The frontend of `current` (may be null) already listening on `f`'s address, or nullptr.
/// Counts the workers that have done something, for a bounded wait on the control thread.
class countdown {
 public:
  explicit countdown(std::size_t n) : left_(n) {}
  void count_down() {
    const std::lock_guard lock(mutex_);
    if (--left_ == 0) done_.notify_all();
  }
  void wait_for(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    done_.wait_for(lock, limit, [this] { return left_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::size_t left_;
};

/// Places `frontend`'s connections by load over its listening sockets `fds` (one per worker);
/// where that fails, the kernel's hash places them, and a log line says so.
void place_by_load(const load_placement& placement, const std::string& frontend,
                   const std::vector<int>& fds) {
  if (!placement.available()) return;
  std::string error;
  if (placement.attach(fds, error))
    log::info("new connections go to the worker with the fewest sessions (reuseport BPF)",
              {{"frontend", frontend}});
  else
    log::warn("new connections spread over workers by address hash",
              {{"frontend", frontend}, {"error", error}});
}

const generation::frontend* listening_on(const generation::snapshot* current,
                                         const config::frontend_config& f) {
  if (!current) return nullptr;
  for (const auto& old : current->frontends)
    if (old.config.listen == f.listen) return &old;
  return nullptr;
}

}  // namespace

prepared_listeners::prepared_listeners(prepared_listeners&& other) noexcept
    : fds_(std::move(other.fds_)), reapply_(std::move(other.reapply_)) {
  other.fds_.clear();
}

prepared_listeners& prepared_listeners::operator=(prepared_listeners&& other) noexcept {
  if (this != &other) {
    close_all();
    fds_ = std::move(other.fds_);
    reapply_ = std::move(other.reapply_);
    other.fds_.clear();
  }
  return *this;
}

prepared_listeners::~prepared_listeners() { close_all(); }

void prepared_listeners::close_all() noexcept {
  for (auto& row : fds_)
    for (int& fd : row)
      if (fd >= 0) ::close(std::exchange(fd, -1));
}

proxy::proxy(unsigned workers, std::size_t max_connections, connect_failure_hook on_connect_failure)
    : shared_(std::make_shared<shared_state>(workers)) {
  shared_->max_connections.store(max_connections, std::memory_order_relaxed);
  shared_->on_connect_failure = std::move(on_connect_failure);
  for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<worker>(i, *shared_));
}

proxy::~proxy() { stop(); }

bool proxy::prepare(const generation::snapshot& next, prepared_listeners& out,
                    std::string& error) const {
  const auto n = next.frontends.size();
  prepared_listeners plan;
  plan.fds_.assign(workers_.size(), std::vector<int>(n, -1));
  plan.reapply_.assign(n, false);
  for (std::size_t f = 0; f < n; ++f) {
    const auto& frontend = next.frontends[f].config;
    if (const auto* old = listening_on(current_.get(), frontend)) {
      plan.reapply_[f] = !same_session_options(old->config, frontend);
      continue;
    }
    const handed_listener* inherited = nullptr;
    for (const auto& l : inherited_)
      if (l.address == frontend.listen) inherited = &l;
    // One SO_REUSEPORT socket per worker; place_by_load picks among them for each connection.
    for (std::size_t w = 0; w < workers_.size(); ++w) {
      if (inherited && w < inherited->fds.size()) {
        plan.fds_[w][f] = ::fcntl(inherited->fds[w], F_DUPFD_CLOEXEC, 0);
        if (plan.fds_[w][f] >= 0) {
          apply_session_options(plan.fds_[w][f], frontend, false);
          continue;
        }
      }
      plan.fds_[w][f] = open_listener(frontend.listen, frontend, error);
      if (plan.fds_[w][f] < 0) {
        error = "frontend " + frontend.name + ": " + error;
        return false;  // `plan` closes what it opened
      }
    }
    std::vector<int> group;
    for (const auto& row : plan.fds_) group.push_back(row[f]);
    place_by_load(shared_->placement, frontend.name, group);
  }
  out = std::move(plan);
  return true;
}

void proxy::commit(generation::snapshot_ptr next, prepared_listeners listeners) noexcept {
  // Once the threads run, wait (boundedly) until every worker has switched, so that a reload
  // reported done is done: a connection arriving after it gets the new listening options.
  auto applied = std::make_shared<countdown>(workers_.size());
  for (std::size_t w = 0; w < workers_.size(); ++w)
    workers_[w]->post([wk = workers_[w].get(), next, fds = std::exchange(listeners.fds_[w], {}),
                       reapply = listeners.reapply_, applied]() mutable {
      wk->apply(std::move(next), std::move(fds), std::move(reapply));
      applied->count_down();
    });
  if (running_) applied->wait_for(std::chrono::seconds(1));
  current_ = std::move(next);
  for (auto& l : std::exchange(inherited_, {}))
    for (int fd : l.fds) ::close(fd);
}

void proxy::start() {
  if (workers_.size() > 1 && !shared_->placement.available())
    log::warn("new connections spread over workers by address hash",
              {{"reason", shared_->placement.unavailable_reason()}});
  running_ = true;
  for (auto& w : workers_) w->run();
}

namespace {

/// Sessions the sockmap has room for; each also needs its credit within max_buffer_memory.
constexpr std::uint32_t sockmap_pairs = 4096;

}  // namespace

bool proxy::open_sockmap(std::string& error) {
  auto path = std::make_unique<sockmap_path>(sockmap_pairs);
  if (!path->available()) {
    error = path->reason();
    return false;
  }
  shared_->sockmap = std::move(path);
  return true;
}

bool proxy::inherit_sockmap(handed_sockmap maps, std::string& error) {
  auto path = std::make_unique<sockmap_path>(maps, error);
  if (!path->available()) return false;
  shared_->sockmap = std::move(path);
  return true;
}

handed_sockmap proxy::lend_sockmap() {
  if (!shared_->sockmap) return {};
  shared_->sockmap->allow_joining(false);
  return shared_->sockmap->hand_over();
}

void proxy::take_back_sockmap() {
  if (shared_->sockmap) shared_->sockmap->allow_joining(true);
}

std::size_t proxy::free_inherited_sockmap_pairs() {
  return shared_->sockmap ? shared_->sockmap->free_inherited() : 0;
}

void proxy::close_sessions(const backend::server_ptr& server, duration spread) {
  for (auto& w : workers_)
    w->post([wk = w.get(), server, spread] { wk->close_sessions(server.get(), spread); });
}

std::shared_ptr<const std::atomic<std::int64_t>> proxy::rebalance(const backend::server_ptr& server,
                                                                  std::int64_t count, duration quiet,
                                                                  duration window) {
  // Each worker takes an even share of the count, from one shared budget.
  const auto workers = static_cast<std::int64_t>(workers_.size());
  const std::int64_t share = (count + workers - 1) / workers;
  auto budget = std::make_shared<std::atomic<std::int64_t>>(count);
  for (auto& w : workers_)
    w->post([wk = w.get(), server, share, budget, quiet, window] {
      wk->rebalance(server.get(), share, budget, quiet, window);
    });
  return budget;
}

void proxy::stop_accepting() {
  // Waits for every worker, so that no connection is accepted once this returns.
  std::latch stopped(static_cast<std::ptrdiff_t>(workers_.size()));
  for (auto& w : workers_)
    w->post([wk = w.get(), &stopped] {
      wk->stop_accepting();
      stopped.count_down();
    });
  stopped.wait();
}

void proxy::stop() {
  for (auto& w : workers_) w->post([wk = w.get()] { wk->shutdown(); });
  for (auto& w : workers_) w->join();
}

void proxy::on_every_worker(const std::function<void(worker&)>& work) const {
  std::latch done(static_cast<std::ptrdiff_t>(workers_.size()));
  for (const auto& w : workers_)
    w->post([wk = w.get(), &work, &done] {
      work(*wk);
      done.count_down();
    });
  done.wait();
}

std::vector<handed_listener> proxy::listeners() const {
  std::vector<handed_listener> out;
  std::mutex mutex;
  std::vector<std::vector<std::pair<socket_address, int>>> per_worker(workers_.size());
  on_every_worker([&](worker& w) {
    auto sockets = w.listening_sockets();
    for (auto& [address, fd] : sockets) fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    const std::lock_guard lock(mutex);
    per_worker[w.slot()] = std::move(sockets);
  });
  for (const auto& sockets : per_worker)
    for (const auto& socket : sockets) {
      if (socket.second < 0) continue;
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const handed_listener& l) { return l.address == socket.first; });
      if (it == out.end()) it = out.insert(out.end(), handed_listener{socket.first, {}});
      it->fds.push_back(socket.second);
    }
  return out;
}

void proxy::inherit_listeners(std::vector<handed_listener> listeners) { inherited_ = std::move(listeners); }

std::vector<handed_session> proxy::hand_over_sessions() {
  std::vector<handed_session> out;
  std::mutex mutex;
  on_every_worker([&](worker& w) {
    std::vector<handed_session> mine;
    w.hand_over_sessions(mine);
    const std::lock_guard lock(mutex);
    std::move(mine.begin(), mine.end(), std::back_inserter(out));
  });
  return out;
}

void proxy::adopt_sessions(std::vector<handed_session> sessions) {
  // Each goes to the worker with the fewest sessions, counting those dealt so far: the new
  // process's workers may already carry what they accepted meanwhile.
  std::vector<std::vector<handed_session>> shares(workers_.size());
  std::vector<std::int64_t> load;
  for (const auto& w : worker_loads()) load.push_back(w.active_sessions);
  for (auto& s : sessions) {
    const auto w = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    shares[w].push_back(std::move(s));
    ++load[w];
  }
  for (std::size_t w = 0; w < workers_.size(); ++w)
    workers_[w]->post([wk = workers_[w].get(), share = std::make_shared<std::vector<handed_session>>(
                                                   std::move(shares[w]))] {
      for (auto& h : *share) wk->adopt(std::move(h));
    });
}

void proxy::resume_accepting(std::vector<handed_listener> listeners) {
  prepared_listeners plan;
  const auto n = current_->frontends.size();
  plan.fds_.assign(workers_.size(), std::vector<int>(n, -1));
  plan.reapply_.assign(n, false);
  for (std::size_t f = 0; f < n; ++f)
    for (auto& l : listeners)
      if (l.address == current_->frontends[f].config.listen)
        for (std::size_t w = 0; w < workers_.size() && w < l.fds.size(); ++w)
          plan.fds_[w][f] = std::exchange(l.fds[w], -1);
  // A successor that failed may have put its own program on the groups, reading its counts.
  for (std::size_t f = 0; f < n; ++f) {
    std::vector<int> group;
    for (const auto& row : plan.fds_) group.push_back(row[f]);
    if (std::find(group.begin(), group.end(), -1) == group.end())
      place_by_load(shared_->placement, current_->frontends[f].config.name, group);
  }
  for (auto& l : listeners)
    for (int fd : l.fds)
      if (fd >= 0) ::close(fd);
  commit(current_, std::move(plan));
}

void proxy::ping_workers() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& w : workers_)
    if (w->liveness().should_post(now)) w->post([wk = w.get()] { wk->liveness().ran(); });
}

std::vector<stalled_worker> proxy::stalled_workers(duration limit) const {
  const auto now = std::chrono::steady_clock::now();
  std::vector<stalled_worker> out;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    const auto waited = std::chrono::duration_cast<duration>(workers_[i]->liveness().waiting(now));
    if (waited > limit) out.push_back({static_cast<unsigned>(i), waited});
  }
  return out;
}

std::size_t proxy::active_sessions() const {
  return shared_->active_sessions.load(std::memory_order_relaxed);
}

std::size_t proxy::max_connections() const {
  return shared_->max_connections.load(std::memory_order_relaxed);
}

void proxy::set_max_connections(std::size_t cap) {
  shared_->max_connections.store(cap, std::memory_order_relaxed);
}

std::size_t proxy::bulk_pipes() const { return shared_->pipes.limit(); }

void proxy::set_bulk_pipes(std::size_t pipes) { shared_->pipes.set_limit(pipes); }

void proxy::set_max_buffer_memory(std::uint64_t bytes) {
  shared_->buffers.set_cap(static_cast<std::int64_t>(bytes));
}

std::vector<worker_load> proxy::worker_loads() const {
  std::vector<worker_load> out;
  for (const auto& w : workers_) out.push_back(w->load());
  return out;
}

std::int64_t proxy::buffered_bytes() const { return shared_->buffers.held(); }

}  // namespace cplb::proxy

#include "cplb/vrrp/group.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <stdexcept>

#include "instance.hpp"

namespace cplb::vrrp {

namespace asio = boost::asio;

class group::plan {
 public:
  std::vector<std::shared_ptr<detail::instance>> next;   ///< the instances after commit
  std::vector<std::shared_ptr<detail::instance>> fresh;  ///< of those, the ones to start
  std::vector<std::pair<std::shared_ptr<detail::instance>, config::vrrp_instance_config>> updates;
};

class group::impl {
 public:
  impl(asio::io_context& io, group_observer observer) : io_(io), observer_(std::move(observer)) {}

  ~impl() {
    observer_ = {};  // the daemon is going away: stop without telling it
    for (const auto& i : instances_) i->stop();
  }

  plan_ptr prepare(const std::vector<config::vrrp_instance_config>& configs, std::string& error) {
    if (shutting_down_) {
      error = "vrrp is shutting down";
      return nullptr;
    }
    plan_ptr p(new plan);
    try {
      for (const auto& cfg : configs) {
        const auto old = find(cfg.name);
        if (old && old->can_update(cfg)) {
          p->next.push_back(old);
          if (!(old->config() == cfg)) p->updates.emplace_back(old, cfg);
        } else {
          p->next.push_back(make(cfg));
          p->fresh.push_back(p->next.back());
        }
      }
    } catch (const std::exception& e) {
      error = e.what();
      return nullptr;
    }
    return p;
  }

  void commit(plan& p) {
    for (const auto& i : instances_)
      if (std::find(p.next.begin(), p.next.end(), i) == p.next.end()) i->stop();  // removed or changed
    for (auto& [i, cfg] : p.updates) i->update(std::move(cfg), down_backends_);
    instances_ = std::move(p.next);
    for (const auto& i : p.fresh) i->start(down_backends_);
  }

  void set_backends_down(const std::set<std::string>& down) {
    down_backends_ = down;
    for (const auto& i : instances_) i->set_backends_down(down_backends_);
  }

  void shutdown(std::function<void()> done) {
    if (shutting_down_) return;
    shutting_down_ = true;
    auto finish = [this, done = std::move(done)] {
      for (const auto& i : instances_) i->stop();
      asio::post(io_, done);
    };
    auto waiting = std::make_shared<std::size_t>(instances_.size());
    if (*waiting == 0) return finish();
    const auto instances = instances_;  // a release may finish everything while we iterate
    for (const auto& i : instances)
      i->shutdown([waiting, finish] {
        if (--*waiting == 0) finish();
      });
  }

  std::vector<instance_status> status() const {
    std::vector<instance_status> out;
    for (const auto& i : instances_) out.push_back(i->status());
    return out;
  }

 private:
  std::shared_ptr<detail::instance> make(const config::vrrp_instance_config& cfg) {
    return std::make_shared<detail::instance>(
        io_, cfg,
        [this](const std::string& name, state from, state to, cause why) {
          if (observer_.on_transition) observer_.on_transition(name, from, to, why);
        },
        [this](const std::string& name, const char* reason) {
          if (observer_.on_drop) observer_.on_drop(name, reason);
        });
  }

  std::shared_ptr<detail::instance> find(const std::string& name) const {
    for (const auto& i : instances_)
      if (i->config().name == name) return i;
    return nullptr;
  }

  asio::io_context& io_;
  group_observer observer_;
  std::vector<std::shared_ptr<detail::instance>> instances_;  ///< in config order
  std::set<std::string> down_backends_;
  bool shutting_down_ = false;
};

group::group(asio::io_context& io, group_observer observer)
    : impl_(std::make_unique<impl>(io, std::move(observer))) {}

group::~group() = default;

void group::plan_deleter::operator()(plan* p) const noexcept { delete p; }

group::plan_ptr group::prepare(const std::vector<config::vrrp_instance_config>& instances,
                               std::string& error) {
  return impl_->prepare(instances, error);
}

void group::commit(plan_ptr p) noexcept { impl_->commit(*p); }

void group::set_backends_down(const std::set<std::string>& down_backends) {
  impl_->set_backends_down(down_backends);
}

void group::shutdown(std::function<void()> done) {
  impl_->shutdown(std::move(done));
}

std::vector<instance_status> group::status() const {
  return impl_->status();
}

}  // namespace cplb::vrrp

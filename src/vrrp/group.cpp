#include "cplb/vrrp/group.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <stdexcept>

#include "instance.hpp"

namespace cplb::vrrp {

namespace asio = boost::asio;

class group::impl {
 public:
  impl(asio::io_context& io, group_listener listener) : io_(io), listener_(std::move(listener)) {}

  ~impl() {
    listener_ = {};  // the daemon is going away: stop without telling it
    for (const auto& i : instances_) i->stop();
  }

  void start(const std::vector<config::vrrp_instance_config>& configs) {
    std::vector<std::shared_ptr<detail::instance>> built;
    for (const auto& cfg : configs) built.push_back(make(cfg));
    instances_ = std::move(built);
    for (const auto& i : instances_) i->start(down_backends_);
  }

  bool reconfigure(const std::vector<config::vrrp_instance_config>& configs, std::string& error) {
    if (shutting_down_) {
      error = "vrrp is shutting down";
      return false;
    }
    // Open everything new first: a failure leaves the running instances untouched.
    std::vector<std::shared_ptr<detail::instance>> next;
    std::vector<std::shared_ptr<detail::instance>> fresh;
    std::vector<std::pair<std::shared_ptr<detail::instance>, config::vrrp_instance_config>> updates;
    try {
      for (const auto& cfg : configs) {
        const auto old = find(cfg.name);
        if (old && old->can_update(cfg)) {
          next.push_back(old);
          if (!(old->config() == cfg)) updates.emplace_back(old, cfg);
        } else {
          next.push_back(make(cfg));
          fresh.push_back(next.back());
        }
      }
    } catch (const std::exception& e) {
      error = e.what();
      return false;
    }
    for (const auto& i : instances_)
      if (std::find(next.begin(), next.end(), i) == next.end()) i->stop();  // removed or changed
    for (auto& [i, cfg] : updates) i->update(std::move(cfg), down_backends_);
    instances_ = std::move(next);
    for (const auto& i : fresh) i->start(down_backends_);
    return true;
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
        io_, cfg, [this](const std::string& name, state from, state to, cause why) {
          if (listener_.on_transition) listener_.on_transition(name, from, to, why);
        });
  }

  std::shared_ptr<detail::instance> find(const std::string& name) const {
    for (const auto& i : instances_)
      if (i->config().name == name) return i;
    return nullptr;
  }

  asio::io_context& io_;
  group_listener listener_;
  std::vector<std::shared_ptr<detail::instance>> instances_;  ///< in config order
  std::set<std::string> down_backends_;
  bool shutting_down_ = false;
};

group::group(asio::io_context& io, group_listener listener)
    : impl_(std::make_unique<impl>(io, std::move(listener))) {}

group::~group() = default;

void group::start(const std::vector<config::vrrp_instance_config>& instances) {
  impl_->start(instances);
}

bool group::reconfigure(const std::vector<config::vrrp_instance_config>& instances, std::string& error) {
  return impl_->reconfigure(instances, error);
}

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

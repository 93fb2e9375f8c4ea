#include "cplb/vrrp/group.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "cplb/core/log.hpp"
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
    if (handed_over_) {
      error = "vrrp is handed over to a new process";
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
    start(p.fresh);
    committed_ = true;
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

  std::vector<handed_instance> hand_over() {
    std::vector<handed_instance> out;
    for (const auto& i : instances_) {
      out.push_back({i->config().name, i->hand_over()});
      handed_.push_back(i->config());
    }
    instances_.clear();  // nor will the destructor stop them
    handed_over_ = true;
    return out;
  }

  void inherit(std::vector<handed_instance> states) {
    if (!committed_) inherited_ = std::move(states);
  }

  void take_back(std::vector<handed_instance> states) {
    if (!handed_over_) return;
    handed_over_ = false;
    inherited_ = std::move(states);
    for (const auto& cfg : std::exchange(handed_, {})) {
      try {
        instances_.push_back(make(cfg));
      } catch (const std::exception& e) {
        log::error("vrrp instance not taken back", {{"instance", cfg.name}, {"error", e.what()}});
      }
    }
    start(instances_);
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
        detail::instance_callbacks{[this](const std::string& name, state from, state to, cause why) {
                                     if (observer_.on_transition) observer_.on_transition(name, from, to, why);
                                   },
                                   [this](const std::string& name, const char* reason) {
                                     if (observer_.on_drop) observer_.on_drop(name, reason);
                                   },
                                   [this](const std::string& name) {
                                     if (observer_.on_split_brain) observer_.on_split_brain(name);
                                   }});
  }

  /// Starts `fresh`, each in the state inherited for it, and forgets the inherited states.
  void start(const std::vector<std::shared_ptr<detail::instance>>& fresh) {
    for (const auto& i : fresh) {
      const auto& name = i->config().name;
      const auto it = std::find_if(inherited_.begin(), inherited_.end(),
                                   [&](const handed_instance& h) { return h.name == name; });
      i->start(down_backends_, it == inherited_.end() ? state::init : it->current);
    }
    inherited_.clear();
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
  std::vector<handed_instance> inherited_;             ///< for the next start(): see inherit()
  bool committed_ = false;                             ///< inherit() only before the first commit
  std::vector<config::vrrp_instance_config> handed_;  ///< what hand_over() stopped, for take_back()
  bool handed_over_ = false;
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

std::vector<handed_instance> group::hand_over() {
  return impl_->hand_over();
}

void group::inherit(std::vector<handed_instance> states) {
  impl_->inherit(std::move(states));
}

void group::take_back(std::vector<handed_instance> states) {
  impl_->take_back(std::move(states));
}

std::vector<instance_status> group::status() const {
  return impl_->status();
}

}  // namespace cplb::vrrp

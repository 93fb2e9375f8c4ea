#include "fixture.hpp"

#include <stdexcept>

namespace cplb::metrics::test {

namespace {

config::server_config server(const std::string& name, const std::string& address) {
  config::server_config s;
  s.name = name;
  s.address = *socket_address::parse(address);
  s.host = s.address.ip_string();
  return s;
}

config::frontend_config frontend(const std::string& name, const std::string& listen,
                                 const std::string& backend) {
  config::frontend_config f;
  f.name = name;
  f.listen = *socket_address::parse(listen);
  f.backend = backend;
  return f;
}

}  // namespace

config::config sample_config() {
  config::config cfg;
  cfg.file = "/etc/cplb/test \"quoted\".yaml";
  config::backend_config cp;
  cp.name = "control-plane";
  cp.servers = {server("m1", "10.0.0.11:6443"), server("m2", "10.0.0.12:6443"),
                server("m3", "[fd00::13]:6443")};
  config::backend_config etcd;
  etcd.name = "etcd";
  etcd.servers = {server("e1", "10.0.0.21:2379")};
  cfg.backends = {cp, etcd};
  cfg.frontends = {frontend("kube-apiserver", "127.0.0.1:6443", "control-plane"),
                   frontend("etcd", "127.0.0.1:2379", "etcd")};
  return cfg;
}

test_generation test_generation::build(const config::config& cfg, const test_generation* previous) {
  test_generation g;
  g.backends = backend::backend_set::build(cfg, previous ? previous->backends.get() : nullptr,
                                           workers);
  g.snapshot = cplb::generation::snapshot::build(cfg, g.backends,
                                                 previous ? previous->snapshot.get() : nullptr, workers);
  return g;
}

const backend::backend& test_generation::backend(const std::string& name) const {
  const auto b = backends->find(name);
  if (!b) throw std::logic_error("no backend " + name);
  return *b;
}

backend::server& test_generation::server(const std::string& backend_name,
                                    const std::string& name) const {
  for (const auto& s : backend(backend_name).servers())
    if (s->name() == name) return *s;
  throw std::logic_error("no server " + name);
}

cplb::generation::frontend_stats& test_generation::frontend(const std::string& name) const {
  for (const auto& f : snapshot->frontends)
    if (f.config.name == name) return *f.stats;
  throw std::logic_error("no frontend " + name);
}

}  // namespace cplb::metrics::test

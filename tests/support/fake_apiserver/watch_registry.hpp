#pragma once
#include <memory>
#include <vector>

namespace cplb::fake_apiserver {

/// What the registry can do to one open watch.
class watch_control {
 public:
  /// Ends the watch cleanly: the last chunk after the event being written, then the close.
  virtual void end() = 0;

 protected:
  ~watch_control() = default;
};

/// The open watches of one server, so a graceful shutdown can end them all.
class watch_registry {
 public:
  /// Remembers a watch without keeping it alive.
  void add(std::weak_ptr<watch_control> watch);

  /// Ends every watch still open; later ones are not affected.
  void end_all();

 private:
  std::vector<std::weak_ptr<watch_control>> watches_;  ///< may hold watches gone since
};

}  // namespace cplb::fake_apiserver

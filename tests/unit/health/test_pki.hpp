#pragma once
#include <memory>
#include <string>

// Certificates made at test time with the OpenSSL C API, written as PEM into a temporary folder.
namespace cplb::health::testing {

/// A certificate and its key, as PEM file paths.
struct pem_files {
  std::string cert;
  std::string key;
};

/// A temporary folder, removed with everything in it on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  /// Writes `contents` to `name` inside the folder; returns its path.
  std::string write(const std::string& name, const std::string& contents) const;
  /// The folder's path.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// What a certificate is for.
enum class usage { server, client };

/// A test certificate authority (EC P-256) that issues leaf certificates.
class authority {
 public:
  /// A new CA called `name`, its files written into `dir`.
  authority(const temp_dir& dir, const std::string& name);
  ~authority();
  authority(const authority&) = delete;
  authority& operator=(const authority&) = delete;

  /// The CA certificate's PEM file (a trust store for the other side).
  const std::string& cert_file() const { return files_.cert; }

  /// Issues a leaf called `name` for `san` (e.g. `IP:127.0.0.1, DNS:localhost`), valid from
  /// now + `from_s` to now + `until_s` seconds.
  pem_files issue(const std::string& name, const std::string& san, usage use, long from_s = -3600,
                  long until_s = 86400) const;

 private:
  struct state;
  std::unique_ptr<state> state_;
  const temp_dir& dir_;
  pem_files files_;
};

}  // namespace cplb::health::testing

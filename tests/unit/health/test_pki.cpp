#include "test_pki.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace cplb::health::testing {
namespace {

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test pki: ") + what);
}

pkey_ptr new_key() {
  pkey_ptr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EVP_EC_gen");
  return key;
}

/// Adds one X509v3 extension given in openssl.cnf syntax.
void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// An unsigned certificate for `key` called `name`, from `issuer` (itself when null).
x509_ptr make_cert(const std::string& name, EVP_PKEY* key, X509* issuer, long from_s,
                   long until_s) {
  static long serial = 1;
  x509_ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), until_s);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : subject);
  add_extension(cert.get(), issuer ? issuer : cert.get(), NID_subject_key_identifier, "hash");
  return cert;
}

void sign(X509* cert, EVP_PKEY* key) { check(X509_sign(cert, key, EVP_sha256()) > 0, "X509_sign"); }

template <typename Write>
std::string to_pem(Write write) {
  std::unique_ptr<BIO, bio_free> bio(BIO_new(BIO_s_mem()));
  check(write(bio.get()) == 1, "PEM write");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string cert_pem(X509* cert) {
  return to_pem([cert](BIO* b) { return PEM_write_bio_X509(b, cert); });
}

std::string key_pem(EVP_PKEY* key) {
  return to_pem([key](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

}  // namespace

temp_dir::temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "cplb-health-XXXXXX").string();
  check(mkdtemp(pattern.data()) != nullptr, "mkdtemp");
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string temp_dir::write(const std::string& name, const std::string& contents) const {
  const std::string file = path_ + "/" + name;
  std::ofstream out(file, std::ios::binary);
  out << contents;
  check(static_cast<bool>(out), "write");
  return file;
}

struct authority::state {
  pkey_ptr key;
  x509_ptr cert;
};

authority::authority(const temp_dir& dir, const std::string& name)
    : state_(std::make_unique<state>()), dir_(dir) {
  state_->key = new_key();
  state_->cert = make_cert(name, state_->key.get(), nullptr, -3600, 10 * 86400);
  add_extension(state_->cert.get(), state_->cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(state_->cert.get(), state_->cert.get(), NID_key_usage,
                "critical,keyCertSign,cRLSign");
  sign(state_->cert.get(), state_->key.get());
  files_.cert = dir.write(name + ".crt", cert_pem(state_->cert.get()));
  files_.key = dir.write(name + ".key", key_pem(state_->key.get()));
}

authority::~authority() = default;

pem_files authority::issue(const std::string& name, const std::string& san, usage use, long from_s,
                           long until_s) const {
  const pkey_ptr key = new_key();
  x509_ptr cert = make_cert(name, key.get(), state_->cert.get(), from_s, until_s);
  X509* issuer = state_->cert.get();
  add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
  add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), issuer, NID_ext_key_usage,
                use == usage::server ? "serverAuth" : "clientAuth");
  if (!san.empty()) add_extension(cert.get(), issuer, NID_subject_alt_name, san);
  sign(cert.get(), state_->key.get());
  return {dir_.write(name + ".crt", cert_pem(cert.get())),
          dir_.write(name + ".key", key_pem(key.get()))};
}

}  // namespace cplb::health::testing

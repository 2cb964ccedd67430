#pragma once
// A qf-venue child process for the feed tests (QF_VENUE, set by tests/feeds/CMakeLists.txt):
// spawned with posix_spawn, its listening line parsed for the URLs, SIGTERMed and reaped when
// the object goes (only the pid it started).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string_view>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace qf::feeds::test {

// A qf-venue child process; its first stdout lines announce the URLs.
class Venue {
public:
  explicit Venue(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) {
      throw std::runtime_error("pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> all{QF_VENUE};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, QF_VENUE, &fa, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start qf-venue");
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
    char line[4096];
    // "qf-venue: listening <ws-url> <http-url> venue=..." then, with --tls, `ca_file = "<path>"`.
    // (Plain string search: GCC 12 warns falsely inside <regex> under the sanitizers.)
    const std::string_view kListening = "qf-venue: listening ";
    const std::string_view kCa = "ca_file = \"";
    while (std::fgets(line, sizeof line, out_) != nullptr) {
      const std::string_view text(line);
      if (text.substr(0, kListening.size()) == kListening) {
        const std::string_view rest = text.substr(kListening.size());
        const std::size_t space = rest.find(' ');
        ws_ = std::string(rest.substr(0, space));
        const std::string_view after = rest.substr(space + 1);
        rest_ = std::string(after.substr(0, after.find(' ')));
      } else if (text.substr(0, kCa.size()) == kCa) {
        const std::string_view path = text.substr(kCa.size());
        ca_file_ = std::string(path.substr(0, path.find('"')));
      }
      if (!ws_.empty() && (ws_.rfind("ws://", 0) == 0 || !ca_file_.empty())) {
        break;
      }
    }
    if (ws_.empty()) {
      throw std::runtime_error("qf-venue did not announce its URLs");
    }
  }
  ~Venue() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    std::fclose(out_);
  }
  Venue(const Venue&) = delete;
  Venue& operator=(const Venue&) = delete;

  [[nodiscard]] const std::string& ws() const { return ws_; }
  [[nodiscard]] const std::string& rest() const { return rest_; }
  [[nodiscard]] const std::string& ca_file() const { return ca_file_; }

private:
  pid_t pid_ = 0;
  std::FILE* out_ = nullptr;
  std::string ws_, rest_, ca_file_;
};

} // namespace qf::feeds::test

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
#include <regex>
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
    const std::regex listening(R"(listening (wss?://127\.0\.0\.1:\d+) (https?://127\.0\.0\.1:\d+))");
    const std::regex ca(R"re(ca_file = "([^"]+)")re");
    while (std::fgets(line, sizeof line, out_) != nullptr) {
      std::cmatch m;
      if (std::regex_search(line, m, listening)) {
        ws_ = m[1];
        rest_ = m[2];
      } else if (std::regex_search(line, m, ca)) {
        ca_file_ = m[1];
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

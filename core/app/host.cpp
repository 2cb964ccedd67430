#include "host.hpp"

#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace qf::engine {
namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

bool cpu_in_list(const std::string& list, int cpu) {
  std::stringstream ss(list);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) {
      continue;
    }
    const auto dash = part.find('-');
    try {
      const int lo = std::stoi(part.substr(0, dash));
      const int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
      if (cpu >= lo && cpu <= hi) {
        return true;
      }
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

bool process_running(const std::string& proc_root, const std::string& name) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(proc_root, ec)) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    if (read_first_line(entry.path().string() + "/comm") == name) {
      return true;
    }
  }
  return false;
}

} // namespace

std::string pin_current_thread(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) {
    return "no such CPU";
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<std::size_t>(cpu), &set);
  const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof(set), &set);
  return rc == 0 ? std::string() : std::string(std::strerror(rc));
}

int current_cpu() noexcept { return ::sched_getcpu(); }

ThreadProfile current_thread_profile() noexcept {
  ThreadProfile p;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::pthread_getaffinity_np(::pthread_self(), sizeof set, &set) == 0 && CPU_COUNT(&set) == 1) {
    for (std::size_t c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) {
        p.pinned_cpu = static_cast<int>(c);
        break;
      }
    }
  }
  sched_param param{};
  int policy = 0;
  if (::pthread_getschedparam(::pthread_self(), &policy, &param) == 0) {
    p.policy = policy;
    p.priority = param.sched_priority;
  }
  return p;
}

std::vector<std::string> apply_tuning(const TuningRequest& r) {
  std::vector<std::string> warnings;
  if (r.cpu >= 0) {
    if (const std::string why = pin_current_thread(r.cpu); !why.empty()) {
      warnings.push_back("cannot pin to CPU " + std::to_string(r.cpu) + ": " + why + "; running unpinned");
    }
  }
  if (r.numa_node >= 0) {
    if (::numa_available() < 0) {
      warnings.push_back("NUMA node " + std::to_string(r.numa_node) + " requested but NUMA is not available; ignored");
    } else if (r.numa_node > ::numa_max_node()) {
      warnings.push_back("NUMA node " + std::to_string(r.numa_node) + " does not exist (max " +
                         std::to_string(::numa_max_node()) + "); ignored");
    } else {
      ::numa_set_preferred(r.numa_node);
    }
  }
  if (r.lock_memory && ::mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
    warnings.push_back(std::string("mlockall refused (") + std::strerror(errno) +
                       "): pages may be swapped or faulted on the hot path; raise RLIMIT_MEMLOCK or run with "
                       "CAP_IPC_LOCK");
  }
  if (r.realtime_priority > 0) {
    sched_param p{};
    p.sched_priority = r.realtime_priority;
    if (const int rc = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &p); rc != 0) {
      warnings.push_back("SCHED_FIFO priority " + std::to_string(r.realtime_priority) + " refused (" +
                         std::strerror(rc) + "); running with the normal scheduler");
    }
  }
  return warnings;
}

std::vector<HostFinding> check_host(int core_cpu, const std::string& root) {
  std::vector<HostFinding> out;
  const std::string sys = root + "/sys";
  const std::string proc = root + "/proc";
  const int cpu = core_cpu < 0 ? 0 : core_cpu;
  const std::string cpu_name = "CPU " + std::to_string(cpu);

  const std::string isolated = read_first_line(sys + "/devices/system/cpu/isolated");
  if (core_cpu >= 0 && cpu_in_list(isolated, core_cpu)) {
    out.push_back({"isolated CPUs", isolated, "", false});
  } else {
    out.push_back({"isolated CPUs", isolated.empty() ? "none" : isolated,
                   "boot with isolcpus=" + std::to_string(cpu) + " so the scheduler leaves the core CPU alone",
                   true});
  }
  const std::string nohz = read_first_line(sys + "/devices/system/cpu/nohz_full");
  const bool nohz_ok = core_cpu >= 0 && cpu_in_list(nohz, core_cpu);
  out.push_back({"nohz_full", nohz.empty() ? "none" : nohz,
                 nohz_ok ? "" : "boot with nohz_full=" + std::to_string(cpu) + " to stop the timer tick there", !nohz_ok});

  const std::string governor_path = sys + "/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq/scaling_governor";
  const std::string governor = read_first_line(governor_path);
  if (governor.empty()) {
    out.push_back({cpu_name + " governor", "not exposed (virtual machine?)", "", false});
  } else {
    const bool ok = governor == "performance";
    out.push_back({cpu_name + " governor", governor, ok ? "" : "set the performance governor (cpupower frequency-set -g performance)", !ok});
  }

  const std::string thp = read_first_line(sys + "/kernel/mm/transparent_hugepage/enabled");
  const bool thp_always = thp.find("[always]") != std::string::npos;
  out.push_back({"transparent huge pages", thp.empty() ? "unknown" : thp,
                 thp_always ? "set it to madvise: khugepaged compaction stalls hurt tail latency" : "", thp_always});

  const bool irqbalance = process_running(proc, "irqbalance");
  out.push_back({"irqbalance", irqbalance ? "running" : "not running",
                 irqbalance ? "stop irqbalance or ban the core CPU (IRQBALANCE_BANNED_CPULIST) so interrupts stay off it" : "",
                 irqbalance});
  return out;
}

} // namespace qf::engine

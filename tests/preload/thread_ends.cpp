// A program whose threads free and allocate memory as they end, for the preloaded face
// (run_preloaded.sh): each of its threads keeps a thread_local object and two pthread keys whose
// destructors free what the thread built and allocate on the way out. The first key's destructor
// sets the second key, so glibc runs a second round of key destructors in the ending thread,
// after its C++ thread_local destructors. Built without talc: any malloc serves it.
//
// Prints what the destructors saw; the same under every correct malloc.
#include <pthread.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kWaves = 4;
constexpr int kThreadsPerWave = 25;

std::mutex results_mu;
std::vector<std::string> results;  // one line per destructor run, built as the thread ends
pthread_key_t buffer_key;          // a malloc'd buffer, freed by its destructor
pthread_key_t late_key;            // set by buffer_key's destructor: a second round

void record(std::string line) {
  const std::lock_guard<std::mutex> g(results_mu);
  results.push_back(std::move(line));
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  return (h ^ v) * 0x100000001b3ULL;
}

// What a thread keeps until it ends: blocks of many sizes, freed by the destructor, which
// allocates its line of the results first.
struct Keep {
  int id = -1;
  std::vector<std::unique_ptr<char[]>> blocks;
  std::vector<std::string> words;
  ~Keep() {
    if (id < 0) return;
    std::uint64_t h = 14695981039346656037ULL;
    for (const std::string& w : words) h = mix(h, std::hash<std::string>{}(w));
    record("tls " + std::to_string(id) + " " + std::to_string(blocks.size()) + " " +
           std::to_string(h));
    blocks.clear();
    words.clear();
    words.shrink_to_fit();
  }
};
thread_local Keep keep;

void late_destructor(void* p) {
  auto* id = static_cast<int*>(p);
  record("late " + std::to_string(*id));
  std::free(id);
}

void buffer_destructor(void* p) {
  auto* buf = static_cast<unsigned char*>(p);
  const int id = buf[0] | buf[1] << 8;
  std::uint64_t sum = 0;
  for (int i = 2; i < 4096; ++i) sum += buf[i];
  std::free(buf);
  record("key " + std::to_string(id) + " " + std::to_string(sum));
  auto* late = static_cast<int*>(std::malloc(sizeof(int)));
  *late = id;
  pthread_setspecific(late_key, late);
}

void thread_body(int id) {
  keep.id = id;
  for (int i = 0; i < 200; ++i) {
    const std::size_t size = 8 + static_cast<std::size_t>((id * 131 + i * 37) % 3000);
    keep.blocks.emplace_back(new char[size]);
    std::memset(keep.blocks.back().get(), i, size);
    keep.words.push_back(std::string(static_cast<std::size_t>(1 + i % 40), char('a' + id % 26)) +
                         std::to_string(i));
    if (i % 3 == 0) keep.blocks.erase(keep.blocks.begin());  // frees mixed in
  }
  auto* buf = static_cast<unsigned char*>(std::malloc(4096));
  buf[0] = static_cast<unsigned char>(id & 0xff);
  buf[1] = static_cast<unsigned char>(id >> 8);
  for (int i = 2; i < 4096; ++i) buf[i] = static_cast<unsigned char>((id + i) % 251);
  pthread_setspecific(buffer_key, buf);
}

}  // namespace

int main() {
  if (pthread_key_create(&buffer_key, buffer_destructor) != 0 ||
      pthread_key_create(&late_key, late_destructor) != 0) {
    std::fprintf(stderr, "pthread_key_create failed\n");
    return 1;
  }
  for (int wave = 0; wave < kWaves; ++wave) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreadsPerWave; ++t)
      threads.emplace_back(thread_body, wave * kThreadsPerWave + t);
    for (std::thread& t : threads) t.join();
  }
  std::sort(results.begin(), results.end());
  std::size_t tls = 0, key = 0, late = 0;
  std::uint64_t digest = 14695981039346656037ULL;
  for (const std::string& r : results) {
    tls += r.rfind("tls ", 0) == 0;
    key += r.rfind("key ", 0) == 0;
    late += r.rfind("late ", 0) == 0;
    digest = mix(digest, std::hash<std::string>{}(r));
  }
  std::printf("threads %d: thread_local destructors %zu, key destructors %zu, second round %zu\n",
              kWaves * kThreadsPerWave, tls, key, late);
  std::printf("digest %016llx\n", static_cast<unsigned long long>(digest));
  return tls == key && key == late && late == kWaves * kThreadsPerWave ? 0 : 1;
}

/*
 * lock.pml — the heap's lock between processes (RegionLock), its test of a holder's life, and
 * the taker's roll-back of the journal (TalckMeta::with_lock).
 *
 * Stands for:
 *   include/talc/sync/region_lock.hpp   RegionLock::lock, unlock, self
 *   src/sync/region_lock.cpp            RegionLock::lock_slow, holder_dead, compute_self
 *   src/sync/process.cpp                process_alive, process_tag, read_stat
 *   include/talc/sync/talck_meta.hpp    TalckMeta::with_lock, recover
 *   include/talc/core/journal.hpp       Journal::record, store_after_record, commit, roll_back
 *
 * NPROC processes call with_lock for ever: take the lock, roll back what a dead holder left,
 * check that what the lock protects is whole, run one journalled operation on it, unlock.
 * scripts/check-models runs it with 3 processes: the safety search with 2 deaths (about 11
 * million states), the progress search with 1 (about 2 million; with 2 deaths it stores 22
 * million in about 3 minutes, too long for a test). Around the processes, the environment:
 *   - SIGKILL at every step of every process, inside the roll-back too (the process `killer`
 *     marks a victim; its `unless` escape fires before the victim's next statement), at most
 *     MAXDEATHS deaths in all, so that at least one process is left to take the lock;
 *   - a killed process is a zombie until it is reaped, then its pid is free, and may be given
 *     to a new process with another start time (another tag), which calls with_lock in turn;
 *   - a read of /proc/<pid>/stat may fail (EACCES, hidepid, EMFILE ...) in any process, for its
 *     own stat or another's, at most MAXFAILS times in all: in one process and not in another;
 *   - each call's bound is the default or zero (lock_wait 0): after each verification of a
 *     live holder a waiter may give up (a zero bound always does) or take another turn;
 *   - the word may start abandoned (a region of a previous boot), with a torn operation in the
 *     journal that a holder of that boot left.
 *
 * The rules modelled (the liveness rules in force):
 *   - a process's tag is a hash of its start time (/proc/<pid>/stat field 22); a holder is dead
 *     only from evidence: kill(pid, 0) says ESRCH, or the process is a zombie, or its tag read
 *     right now differs from the word's. A read that fails means "cannot tell": alive. No failed
 *     read is kept for later.
 *   - a process that cannot read its own stat has no identity and is refused the lock: no word
 *     ever carries an unknown tag.
 *   - a zero bound still verifies the current holder once before it gives up with timed_out.
 *
 * Abstractions (each keeps every behaviour of the code):
 *   - time: the spins, the futex sleeps in slices and the deadline are not counted; a waiter
 *     verifies the holder on each turn of its loop (the code, once a slice has passed: any
 *     interleaving of the model covers that instant), and one with a non-zero bound may give up
 *     at any turn after a verification. A futex sleep ends by its slice whatever happens, so it
 *     is a step that changes nothing, and the waiters bit, which only decides whether unlock
 *     calls FUTEX_WAKE, is left out of the word.
 *   - a tag is the start time itself (a small counter per pid): 32-bit hash collisions, and a
 *     pid reused within one clock tick of the same start time, are outside the model.
 *   - memory is sequentially consistent: each statement is one atomic access; the code's
 *     acquire/release orderings are what make that true on a real machine (not checked here).
 *   - the heap the lock protects is two words X and Y that every operation flips together; the
 *     journal has one entry per word (Journal::record's entry, then its count, then the word).
 *
 * Properties:
 *   safety    at most one live process holds the lock (asserted by each taker, in TAKEN), and
 *             what the lock protects is whole when a taker starts its operation (X == Y).
 *   progress  (-DNP, weak fairness) no execution in which, from some point on, no process ever
 *             takes the lock: a dead holder's word is always taken over (the death budget leaves
 *             a process alive, and reads fail only finitely often).
 *
 * Mutants (each must give a counterexample; scripts/check-models checks that they do):
 *   MUTANT_SKIP_ROLLBACK          a taker told owner_died runs without rolling the journal back
 *                                 (safety: X != Y at the start of an operation)
 *   MUTANT_FAILED_READ_DEAD       a failed read of the holder's stat gives another tag (as the
 *                                 boot id read that failed did), so a live holder is judged dead
 *                                 (safety: two processes in the critical section)
 *   MUTANT_ZERO_BOUND_NO_VERIFY   a zero bound gives up before verifying the holder (progress:
 *                                 a dead holder is never recovered by callers with lock_wait 0)
 *   MUTANT_UNKNOWN_IDENTITY       a process whose own stat cannot be read takes the lock with an
 *                                 unknown tag; it dies, its pid is reused, and every waiter
 *                                 believes the word's holder alive for ever (progress)
 */

#ifndef NPROC
#define NPROC 3
#endif
#ifndef MAXDEATHS
#define MAXDEATHS (NPROC - 1)
#endif
#ifndef MAXFAILS
#define MAXFAILS 2
#endif

/* What kill(pid, 0) and /proc/<pid>/stat say of a pid. */
#define RUNNING 0
#define ZOMBIE  1
#define GONE    2

/* The tag of a process whose stat could not be read (include/talc/sync/process.hpp:
 * kTagUnknown); only MUTANT_UNKNOWN_IDENTITY writes it into a word. */
#define TAG_UNKNOWN 15

/* A lock word: pid p (0 .. NPROC-1) and tag t (1 ..). RegionLock: bits 0-29 pid, 32-63 tag. */
#define WORD(p, t)  ((t) * 4 + (p) + 1)
#define PID(w)      ((w) % 4 - 1)
#define TAG(w)      ((w) / 4)
#define ABANDONED   64   /* RegionLock::kAbandoned: pid field 0, which no holder writes */

#if NPROC == 2
#define IN_CS (incs[0] + incs[1])
#else
#define IN_CS (incs[0] + incs[1] + incs[2])
#endif

byte word;               /* RegionLock::word_ */
byte os[NPROC];          /* the kernel's view of pid p */
byte start[NPROC];       /* start time of the process that has pid p now: its tag */
bit  kill[NPROC];        /* SIGKILL sent, not yet taken */
byte deaths, fails;

/* What the lock protects, and the journal (TalcMeta's words, Journal::len_ and entries_). */
bit  X, Y;
byte jlen;
bit  jold[2];            /* JournalEntry::old of entry k, which protects word k (X, then Y) */

bit  incs[NPROC];        /* ghost: process p is between taking the lock and unlocking */

/* A death of process i in a step that no other process can see (inside an atomic sequence):
 * the `unless` escape of P takes it before the next statement. */
#define MAY_DIE \
  if \
  :: deaths < MAXDEATHS -> deaths++; kill[i] = 1  /* the escape fires at once */ \
  :: skip \
  fi

/* include/talc/core/journal.hpp Journal::roll_back, called by TalckMeta::recover
 * (include/talc/sync/talck_meta.hpp) -> TalcMeta::recover_after_death -> undo
 * (include/talc/core/talc_meta_recover.hpp) when the lock came with owner_died: entries restored
 * last to first, then the journal emptied. */
inline roll_back()
{
#ifdef MUTANT_SKIP_ROLLBACK
  jlen = 0  /* the journal thrown away, the words left as the dead holder left them */
#else
  MAY_DIE;
  if
  :: jlen == 2 -> Y = jold[1]; MAY_DIE; X = jold[0]  /* Journal::store_after_record(entry 1, 0) */
  :: jlen == 1 -> X = jold[0]
  :: jlen == 0
  fi;
  MAY_DIE;
  jlen = 0  /* journal.hpp Journal::commit, after every word is restored */
#endif
}

/* What runs under the lock once it is taken: include/talc/sync/talck_meta.hpp with_lock's f,
 * one operation of the heap (include/talc/core/talc_meta.hpp TalcMeta::put of each word:
 * include/talc/core/journal.hpp Journal::record, the entry then its count, then
 * store_after_record), and Journal::commit. Nobody else reads what the lock protects while
 * this process holds it, so the whole of it is one atomic sequence, with a possible death
 * between any two of its steps; what others can see of it (the lock word, the death) stays a
 * step of its own. */
inline critical()
{
  assert(X == Y);  /* what the lock protects is whole */
  MAY_DIE; jold[0] = X;  /* TalcMeta::put(X) -> Journal::record: the entry */
  MAY_DIE; jlen = 1;     /* Journal::record: the count, with release */
  MAY_DIE; X = !X;       /* Journal::store_after_record */
  MAY_DIE; jold[1] = Y;  /* TalcMeta::put(Y) -> Journal::record */
  MAY_DIE; jlen = 2;
  MAY_DIE; Y = !Y;       /* Journal::store_after_record */
  MAY_DIE; jlen = 0;     /* Journal::commit */
  MAY_DIE
}

/* The lock taken: mutual exclusion checked, the roll-back when told owner_died, the operation. */
#define TAKEN \
  incs[i] = 1; \
  assert(IN_CS == 1); \
  critical(); \
  goto unlock
#define TAKEN_FROM_DEAD \
  incs[i] = 1; \
  assert(IN_CS == 1); \
  roll_back(); \
  critical(); \
  goto unlock

/* After a verification found the holder alive: src/sync/region_lock.cpp lock_slow gives up
 * with timed_out when its deadline has passed, which a zero bound's has (it has verified once,
 * as the rule says); a non-zero bound may also sleep a slice and take another turn. */
#define STILL_ALIVE \
  if \
  :: goto call   /* LockOutcome::timed_out -> Errc::lock_timeout; the caller calls again */ \
  :: goto slow   /* another turn */ \
  fi

proctype P(byte i)
{
  byte me;  /* RegionLock::self_: this process's word, 0 until known */
  byte w;   /* the word as lock_slow loaded it */

life:
  {
    skip;  /* a new process on pid i */
call:
    atomic {
      /* include/talc/sync/talck_meta.hpp TalckMeta::with_lock -> include/talc/sync/
       * region_lock.hpp RegionLock::lock -> self() -> src/sync/region_lock.cpp compute_self ->
       * src/sync/process.cpp process_tag(getpid()): its own /proc/self/stat, read until it
       * succeeds once */
      if
      :: me == 0 && fails < MAXFAILS ->
         fails++;  /* its own stat cannot be read */
#ifdef MUTANT_UNKNOWN_IDENTITY
         me = WORD(i, TAG_UNKNOWN)  /* the old way: a word with an unknown tag, and kept */
#else
         goto call  /* no identity: refused, no word written, nothing kept; it calls again */
#endif
      :: me == 0 -> me = WORD(i, start[i])
      :: me != 0
      fi;
      /* region_lock.hpp RegionLock::lock: the fast path, one compare-and-swap 0 -> self() */
      if
      :: word == 0 -> word = me; TAKEN
      :: else
      fi
    }
slow:
    atomic {
      /* src/sync/region_lock.cpp RegionLock::lock_slow: one turn of its loop; the word loaded
       * (a word no holder writes, LockOutcome::damaged, is outside the model) */
      w = word;
      if
      :: w == 0 -> goto cas_free
      :: w == ABANDONED -> goto cas_dead  /* taken as from a dead holder */
      :: else
      fi;
#ifdef MUTANT_ZERO_BOUND_NO_VERIFY
      /* the old way with lock_wait 0: the deadline passed before any slice did; no verification */
      if
      :: goto call
      :: skip
      fi;
#endif
      /* region_lock.cpp RegionLock::holder_dead(w): this process's own word is never a dead
       * holder's */
      if
      :: w == me -> STILL_ALIVE
      :: else
      fi
    }
    atomic {
      /* holder_dead -> src/sync/process.cpp process_tag -> process_alive: kill(pid, 0) */
      if
      :: os[PID(w)] == GONE -> goto cas_dead  /* ESRCH: kTagGone */
      :: else
      fi
    }
    atomic {
      /* process.cpp process_tag -> read_stat: /proc/<pid>/stat, read now */
      if
      :: fails < MAXFAILS -> fails++; goto read_failed  /* EACCES, hidepid, EMFILE ... */
      :: os[PID(w)] == GONE -> goto read_failed         /* ENOENT: gone since the kill */
      :: os[PID(w)] == ZOMBIE -> goto cas_dead          /* state Z, one thread: kTagGone */
      :: os[PID(w)] == RUNNING ->
         /* region_lock.cpp holder_dead: the tag read now against the word's (an unknown tag:
          * alive) */
         if
         :: TAG(w) == TAG_UNKNOWN || start[PID(w)] == TAG(w) -> STILL_ALIVE
         :: else -> goto cas_dead  /* the pid names another process: the holder is dead */
         fi
      fi
    }
read_failed:
    atomic {
      /* process.cpp process_tag: read_stat failed -> process_alive(pid) ? kTagUnknown :
       * kTagGone; region_lock.cpp holder_dead: kTagUnknown is alive */
      if
      :: os[PID(w)] == GONE -> goto cas_dead
      :: else ->
#ifdef MUTANT_FAILED_READ_DEAD
         goto cas_dead  /* the old way: a tag computed from what could not be read differs */
#else
         STILL_ALIVE  /* cannot tell: alive */
#endif
      fi
    }
cas_free:
    atomic {
      /* region_lock.cpp lock_slow, the word free: compare-and-swap w -> self() */
      if
      :: word == w -> word = me; w = 0; TAKEN
      :: else -> goto slow
      fi
    }
cas_dead:
    atomic {
      /* region_lock.cpp lock_slow, the holder dead or the word abandoned: one compare-and-swap
       * decides who repairs; the winner is told owner_died */
      if
      :: word == w -> word = me; w = 0; TAKEN_FROM_DEAD
      :: else -> goto slow
      fi
    }
unlock:
progress_unlock:
    atomic {
      /* region_lock.hpp RegionLock::unlock: exchange(0) */
      incs[i] = 0;
      word = 0;
      goto call  /* the caller calls again */
    }
  } unless {
    atomic {
      kill[i] == 1 ->
      /* SIGKILL: nothing more runs; a zombie until its parent reaps it (process.cpp
       * read_stat sees state Z) */
      kill[i] = 0; incs[i] = 0; os[i] = ZOMBIE; me = 0; w = 0
    }
  };
  /* reaped: kill(pid, 0) says ESRCH */
  os[i] = GONE;
  if
  :: atomic { start[i]++; os[i] = RUNNING };  /* the pid given to a new process */
     goto life
  :: skip  /* the pid stays free */
  fi
}

active proctype killer()
{
  do
  :: atomic { deaths < MAXDEATHS && os[0] == RUNNING && !kill[0] -> kill[0] = 1; deaths++ }
  :: atomic { deaths < MAXDEATHS && os[1] == RUNNING && !kill[1] -> kill[1] = 1; deaths++ }
#if NPROC > 2
  :: atomic { deaths < MAXDEATHS && os[2] == RUNNING && !kill[2] -> kill[2] = 1; deaths++ }
#endif
  :: break
  od
}

init
{
  atomic {
    if
    :: skip  /* a fresh lock: free */
    :: word = ABANDONED;  /* a region of a previous boot: its holder died after one write */
       jold[0] = 0; jlen = 1; X = 1
    :: word = ABANDONED;  /* ... or after both, before its commit */
       jold[0] = 0; jold[1] = 0; jlen = 2; X = 1; Y = 1
    fi;
    start[0] = 1; start[1] = 1;
    run P(0); run P(1);
#if NPROC > 2
    start[2] = 1;
    run P(2)
#endif
  }
}

/*
 * lanes.pml — a lane: a thread's cache of small blocks in the region, claimed, worked, given
 * back, paused by a reader, and reclaimed when its owner dies.
 *
 * Stands for:
 *   include/talc/lanes/lane_heap.hpp   LaneHeap::own_lane, reclaim, drain, drain_lanes, give_back,
 *                                      refuse_cached, read_still, owner_gone, with_lock
 *   include/talc/lanes/lane.hpp        LaneOwner::pop, push, unlink, begin, end_op (seq, pause)
 *   src/lanes/lane_local.cpp           lanes_local::acquire (pass 0: a free lane; pass 1: also one
 *                                      whose owner is gone)
 *   src/sync/region_lock.cpp           RegionLock::holder_dead, self (the owner word)
 *   src/sync/process.cpp               process_alive, process_tag, read_stat
 *
 * NPROC processes, one thread each, share one lane, so that every process wants the same one
 * (the most contention; the code that claims, reclaims and reads a lane is the same whatever the
 * number of lanes). Each loops: with no lane
 * it claims it (acquire); with the lane it pops or pushes a block without the lock (or through
 * the lock when the lane is paused), and may give the lane back. Any of them may also, under the
 * heap's lock, drain the lane when its owner is gone (drain_lanes: a request found no memory) or
 * look into it as a reader (refuse_cached: reclaim it if its owner is gone, then read_still:
 * pause, wait for an even seq or a gone owner, read, check that seq did not move). Around them,
 * as in lock.pml: SIGKILL at every step (at most MAXDEATHS), zombies, pids reused by new
 * processes with another start time, reads of /proc that fail (at most MAXFAILS), a process that
 * cannot read its own stat (no identity: no lane, no lock). The lane may also start owned by a
 * process that died inside an operation before the others began (seq odd, a block cached).
 * scripts/check-models runs the safety search with 3 processes and 1 death (about 20 million
 * states: a second death, or a third process in the progress search, takes minutes and more
 * memory than a test should), the progress search with 2 processes and 1 death; the lane owned
 * at the start by a dead process gives both a second dead owner to reclaim.
 *
 * Abstractions (each keeps every behaviour of the code that matters here):
 *   - the lane's stacks are one count of cached blocks (0 .. CAP); a pop or a push is one store
 *     of it, between LaneOwner::begin and end_op; a drain moves one block per journalled core
 *     operation (journal.pml checks that each is atomic).
 *   - the heap's lock is one word taken when free or when its holder is dead, the taker told so
 *     (it lets every pause go, as LaneHeap::with_lock does); lock.pml checks the real one. What a
 *     process does holding it to what no other process touches without it is one atomic
 *     sequence, with a possible death between any two of its steps (MAY_DIE); what others see
 *     without the lock (the owner word, pause, seq, the lane's count) is a step of its own.
 *   - seq is kept mod 4: a reader that paused the lane sees at most one operation after its look
 *     (lane.hpp), which moves seq by 2. A reader waiting for a live owner's odd seq looks again
 *     once in the model, then gives up (the bound: lock_timeout).
 *   - the owner word names a process (pid and tag): the threads of one process are kept apart by
 *     the process-local records (lane_local.cpp, under a mutex), outside the model; so is fork,
 *     whose child takes no lane of its parent's (its self() differs), and Reclaim::any
 *     (fresh_start, by a process that knows it is alone).
 *   - memory is sequentially consistent (the fences of lane.hpp give it on a real machine).
 *
 * Properties:
 *   safety    the lane is worked by at most one live process at a time (its owner, or the
 *             process that reclaims it), asserted whenever one starts; a read that read_still
 *             believes (seq even or the owner gone before, and unchanged after) saw no store of
 *             the owner.
 *   progress  (-DPROGRESS, -DNP, weak fairness) no execution in which, from some point on, the
 *             lane is never claimed and no operation on it completes: a dead owner's lane is
 *             always reclaimable, since every other process keeps asking for it.
 *
 * Mutants (each must give a counterexample; scripts/check-models checks that they do):
 *   MUTANT_RECLAIM_BY_STORE   reclaim takes a dead owner's lane by a plain store, not a CAS from
 *                             the dead owner's word: a claimer that took it meanwhile is robbed
 *                             (safety: two workers)
 *   MUTANT_FAILED_READ_DEAD   a failed read of the owner's stat gives another tag: a live owner
 *                             judged dead and its lane taken from under it (safety; found with
 *                             no death at all)
 *   MUTANT_UNKNOWN_IDENTITY   a process whose own stat cannot be read claims the lane with an
 *                             unknown tag; it dies, its pid is reused, and the lane is never
 *                             reclaimed (progress)
 */

#ifndef NPROC
#define NPROC 3
#endif
#ifndef MAXDEATHS
#define MAXDEATHS (NPROC - 1)
#endif
#ifndef MAXFAILS
#define MAXFAILS 1
#endif
#define CAP 1  /* blocks the lane caches, at most */

#define RUNNING 0
#define ZOMBIE  1
#define GONE    2
#define TAG_UNKNOWN 15
/* An owner word: pid p (0 .. NPROC, the last one a process that died before the others began)
 * and tag t (1 ..). RegionLock: bits 0-29 pid, 32-63 tag. */
#define WORD(p, t)  ((t) * 8 + (p) + 1)
#define PID(w)      ((w) % 8 - 1)
#define TAG(w)      ((w) / 8)
#define ABANDONED   128  /* RegionLock::kAbandoned: pid field 0, which no owner writes */
#define EARLIER     NPROC  /* the pid of a process that owned the lane and died before */

byte os[NPROC + 1], start[NPROC + 1];
bit  kill[NPROC];
byte deaths, fails;

byte hlock;     /* the heap's lock word (talck_meta.hpp's RegionLock), abstracted */

/* include/talc/lanes/lane.hpp struct Lane */
byte owner;     /* Lane::owner: 0, or the owning process's word (RegionLock::self()) */
byte seq;       /* Lane::seq, mod 4: odd while the owner is inside an operation */
bit  pause;     /* Lane::pause */
byte blocks;    /* Lane::head / count / bytes: the blocks cached */

byte workers;   /* ghost: live processes working the lane */
bit  reading;   /* ghost: a reader is reading the lane */
bit  dirty;     /* ghost: the owner stored into the lane while it was read */

/* The paths that take the heap's lock for the lane's sake without owning it (drain_lanes,
 * refuse_cached). The lock is not fair: under weak fairness a process that takes it again and
 * again, for ever, starves one that waits for it, which the code does not do (these paths run
 * when memory runs out or a free looks suspicious). So the progress run (-DPROGRESS) lets them
 * run MAXLOOKS times in all; the safety run, any number of times. */
#ifdef PROGRESS
#define MAXLOOKS 2
byte looks;
#define LOOK_AROUND atomic { looks < MAXLOOKS -> looks++ }
#else
#define LOOK_AROUND skip
#endif

/* The abstract lock's test of its holder (lock.pml checks the real one). */
#define HOLDER_DEAD(w) (os[PID(w)] != RUNNING || start[PID(w)] != TAG(w))

/* A process starts or stops working the lane: at most one live process does. */
#define START_WORK workers++; working = 1; assert(workers == 1)
#define STOP_WORK  workers--; working = 0

/* A death of process i inside an atomic sequence: the `unless` escape takes it at once. */
#define MAY_DIE \
  if \
  :: deaths < MAXDEATHS -> deaths++; kill[i] = 1 \
  :: skip \
  fi

/* include/talc/lanes/lane_heap.hpp LaneHeap::with_lock -> TalckMeta::with_lock -> RegionLock::
 * lock, abstracted: the word free, or its holder dead; a taker from a dead holder lets go the
 * pause it may have left (LaneHeap::with_lock, when `rec`). */
#define TAKE_LOCK \
  if \
  :: atomic { hlock == 0 -> hlock = me } \
  :: atomic { hlock != 0 && HOLDER_DEAD(hlock) -> hlock = me }; \
     pause = 0 \
  fi

/* src/sync/process.cpp process_tag, after read_stat failed: process_alive(pid) ? kTagUnknown :
 * kTagGone; src/sync/region_lock.cpp holder_dead: kTagUnknown is alive. */
#ifdef MUTANT_FAILED_READ_DEAD
#define UNREADABLE(GONE_L, ALIVE_L) goto GONE_L  /* the old way: the tag computed differs */
#else
#define UNREADABLE(GONE_L, ALIVE_L) w = 0; goto ALIVE_L  /* cannot tell: alive */
#endif

/* include/talc/lanes/lane_heap.hpp LaneHeap::owner_gone(w) = w == 0 || w == kAbandoned ||
 * RegionLock::holder_dead(w) (src/sync/region_lock.cpp), with process_tag (src/sync/process.cpp)
 * one system call a step. Goes to GONE_L or to ALIVE_L; the
 * first test (a free, abandoned or own word) is the caller's. (A macro: inline cannot take
 * labels.) */
#define OWNER_GONE(w, GONE_L, ALIVE_L) \
  atomic { \
    /* holder_dead -> process_tag -> process_alive: kill(pid, 0); ESRCH: kTagGone */ \
    if \
    :: os[PID(w)] == GONE -> goto GONE_L \
    :: else \
    fi \
  } \
  atomic { \
    /* process_tag -> read_stat: /proc/<pid>/stat, read now; it may fail (the environment), or \
     * find the pid gone since the kill (ENOENT), or a zombie (kTagGone), or a tag to compare \
     * with the word's (another: the pid names another process; an unknown tag: alive) */ \
    if \
    :: fails < MAXFAILS -> fails++ \
    :: os[PID(w)] == GONE \
    :: os[PID(w)] == ZOMBIE -> goto GONE_L \
    :: os[PID(w)] == RUNNING && (TAG(w) == TAG_UNKNOWN || start[PID(w)] == TAG(w)) -> \
       w = 0; goto ALIVE_L \
    :: os[PID(w)] == RUNNING && TAG(w) != TAG_UNKNOWN && start[PID(w)] != TAG(w) -> goto GONE_L \
    fi \
  } \
  atomic { \
    /* read_stat failed: process_alive(pid) again */ \
    if \
    :: os[PID(w)] == GONE -> goto GONE_L \
    :: else -> UNREADABLE(GONE_L, ALIVE_L) \
    fi \
  }

/* Under the lock, the lane this process's now: lane_heap.hpp LaneHeap::reclaim -> drain (one
 * block per core operation, deallocate_linked), counts zeroed, an odd seq a dead owner left made
 * even, pause let go. */
#define RECLAIM_BODY \
  MAY_DIE; \
  if :: blocks > 0 -> blocks = 0; MAY_DIE :: else fi; \
  seq = (seq % 2 == 1 -> (seq + 1) % 4 : seq); \
  MAY_DIE; \
  pause = 0; \
  MAY_DIE

proctype P(byte i)
{
  byte me;       /* RegionLock::self() (include/talc/sync/region_lock.hpp): this process's
                  * word, 0 until known */
  byte w;        /* the owner word as loaded */
  byte s;        /* seq as read_still loaded it */
  bit mine;      /* this process's thread holds the lane (lane_local.hpp lanes_local::Held) */
  bit working;   /* ghost: this process works the lane */
  bit waited;    /* read_still has looked again once */
  bit reclaiming;  /* reclaim runs for drain_lanes (0) or refuse_cached (1) */

life:
  {
    skip;  /* a new process on pid i */
top:
    atomic {
      w = 0;
      /* region_lock.hpp RegionLock::self -> src/sync/region_lock.cpp compute_self ->
       * src/sync/process.cpp process_tag(getpid()): its own /proc/self/stat, until it is read
       * once */
      if
      :: me == 0 && fails < MAXFAILS ->
         fails++;  /* its own stat cannot be read */
#ifdef MUTANT_UNKNOWN_IDENTITY
         me = WORD(i, TAG_UNKNOWN)  /* the old way: a word with an unknown tag, and kept */
#else
         goto top  /* no identity: no lane and no lock; it asks again later */
#endif
      :: me == 0 -> me = WORD(i, start[i])
      :: me != 0
      fi;
      /* what the thread does next: a small request or free (with its lane, or asking for one),
       * or, sometimes, a path that takes the heap's lock for a lane it does not own */
      if
      :: mine -> goto work
      :: !mine
      :: LOOK_AROUND; goto drain_lanes
      :: LOOK_AROUND; goto refuse_cached
      fi;
      /* lane_heap.hpp LaneHeap::thread_lane -> acquire_lane -> src/lanes/lane_local.cpp
       * lanes_local::acquire -> lane_heap.hpp own_lane(0, false), then own_lane(0, true): the
       * owner word loaded (once for both passes: a second load only sees a later word); a
       * taken lane is left unless its owner is gone */
      w = owner;
      if
      :: w == 0 || w == ABANDONED -> goto claim
      :: w == me -> goto top  /* holder_dead: this process is never dead */
      :: else
      fi
    }
    OWNER_GONE(w, claim, top);
claim:
    atomic {
      /* lane_heap.hpp own_lane: compare-and-swap w -> self() */
      if
      :: owner == w ->
         owner = me;
         START_WORK;
         /* own_lane: a free, empty, still lane is its own at once */
         if
         :: w == 0 && blocks == 0 && seq % 2 == 0 -> mine = 1; w = 0; goto claimed
         :: else -> w = 0
         fi
      :: else -> goto top
      fi
    }
    /* own_lane: a lane left with blocks, or by a dead owner: with_lock(reclaim(0,
     * Reclaim::mine)) */
    TAKE_LOCK;
    atomic { RECLAIM_BODY; mine = 1; hlock = 0 }
claimed:
progress_claimed:
    goto top;

    /* ---- the lane's owner: a small request or free (lane_heap.hpp lane_allocate / lane_free ->
     * lane.hpp LaneOwner::pop / push) ---- */
work:
    /* lane.hpp LaneOwner::pop / push: the lane is paused? then through the lock (lane_heap.hpp
     * refill_pop / free_locked); else the head is looked at, and the operation begins */
    if
    :: pause != 0 -> goto locked_op
    :: pause == 0
    fi;
    seq = (seq + 1) % 4;  /* lane.hpp LaneOwner::begin: seq odd */
    atomic {
      /* lane.hpp LaneOwner::unlink / push: the one store that pops or pushes a block (the
       * head; counts and bytes follow, advisory) */
      if
      :: blocks > 0 -> blocks--
      :: blocks < CAP -> blocks++
      fi;
      if :: reading -> dirty = 1 :: else fi
    }
progress_op:
    atomic {
      seq = (seq + 1) % 4;  /* lane.hpp LaneOwner::end_op: seq even */
      if
      :: goto top  /* keeps the lane */
      :: goto give_back
      fi
    }
locked_op:
    TAKE_LOCK;
    atomic {
      /* lane_heap.hpp refill_pop / free_locked -> lane.hpp pop<true> / push<true> under the
       * lock: begin, the store, end_op */
      seq = (seq + 1) % 4;
      MAY_DIE;
      if
      :: blocks > 0 -> blocks--
      :: blocks < CAP -> blocks++
      fi;
      MAY_DIE;
      seq = (seq + 1) % 4
    }
progress_locked_op:
    atomic {
      hlock = 0;
      if
      :: goto top  /* keeps the lane */
      :: goto give_back
      fi
    }
give_back:
    /* lane_heap.hpp LaneHeap::give_back (lane_local.cpp: the thread ends, or the heap is
     * closed): drained under the lock, then the owner word let go */
    TAKE_LOCK;
    atomic {
      MAY_DIE;
      if :: blocks > 0 -> blocks = 0; MAY_DIE :: else fi;  /* LaneHeap::drain */
      hlock = 0
    }
    atomic { owner = 0; STOP_WORK; mine = 0; goto top };  /* give_back: owner = 0, release */

drain_lanes:
    /* lane_heap.hpp LaneHeap::drain_lanes (retry_after_drain: a request found no memory): a
     * lane with blocks whose owner is gone is reclaimed (Reclaim::dead_only) */
    TAKE_LOCK;
    if
    :: atomic { blocks == 0 -> hlock = 0; goto top }  /* empty(l): nothing to drain */
    :: blocks > 0 -> goto reclaim  /* owner_gone(owner): as reclaim's own test, below */
    fi;
refuse_cached:
    /* lane_heap.hpp LaneHeap::refuse_cached (free_locked: a free of a block marked by the
     * lane): reclaim the lane if its owner is gone, then read it still */
    TAKE_LOCK;
    reclaiming = 1;

    /* ---- lane_heap.hpp LaneHeap::reclaim(0, Reclaim::dead_only), under the lock ---- */
reclaim:
    atomic {
      /* reclaim: the owner word loaded; a live owner's lane is left (owner_gone) */
      w = owner;
      if
      :: w == 0 || w == ABANDONED -> goto reclaim_cas
      :: w == me -> goto reclaimed  /* holder_dead: this process */
      :: else
      fi
    }
    OWNER_GONE(w, reclaim_cas, reclaimed);
reclaim_cas:
#ifdef MUTANT_RECLAIM_BY_STORE
    atomic { owner = me; START_WORK };  /* the old way: a plain store */
#else
    atomic {
      /* reclaim: compare-and-swap w -> self(): a claimer that took the lane meanwhile keeps
       * it */
      if
      :: owner == w -> owner = me; START_WORK
      :: else -> goto reclaimed
      fi
    }
#endif
    atomic { RECLAIM_BODY; owner = 0; STOP_WORK };  /* reclaim: owner = 0, release */
reclaimed:
    atomic {
      w = 0;
      if
      :: reclaiming == 0 -> hlock = 0; goto top
      :: else
      fi
    }

    /* ---- lane_heap.hpp LaneHeap::read_still(0), under the lock: pause, look until still,
     * Thaw ---- */
    pause = 1;
still:
    atomic {
      /* read_still: seq loaded; even, or its owner gone (owner_gone) */
      s = seq;
      if
      :: s % 2 == 0 -> goto read
      :: else
      fi
    }
    atomic {
      w = owner;
      if
      :: w == 0 || w == ABANDONED -> goto read
      :: w == me -> goto busy
      :: else
      fi
    }
    OWNER_GONE(w, read, busy);
busy:
    atomic {
      /* a live owner inside an operation: look again until the bound is past (the model
       * looks once more, then gives up: lock_timeout) */
      if
      :: goto thaw
      :: !waited -> waited = 1; goto still
      fi
    }
read:
    /* read_still: the read (lane.hpp LaneOwner::holds walks the stack), then seq looked at
     * again */
    atomic { w = 0; reading = 1; dirty = 0 };
    reading = 0;
    if
    :: atomic { seq == s -> assert(!dirty) }  /* believed: nothing was stored meanwhile */
    :: seq != s -> goto still
    fi;
thaw:
    /* read_still: Thaw lets the pause go; with_lock unlocks */
    atomic { pause = 0; hlock = 0; s = 0; waited = 0; reclaiming = 0; goto top }
  } unless {
    atomic {
      kill[i] == 1 ->
      /* SIGKILL: nothing more runs; a zombie until its parent reaps it; its lane, its lock
       * and the pause it set stay as they were */
      kill[i] = 0; os[i] = ZOMBIE;
      if :: working -> workers--; working = 0 :: else fi;
      reading = 0;
      me = 0; w = 0; s = 0; mine = 0; waited = 0; reclaiming = 0
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
    /* the lane free, or owned by a process that died inside an operation before the others
     * began: seq odd, a block cached (its pid is gone; a reclaim finds it so) */
    os[EARLIER] = GONE;
    start[EARLIER] = 1;
    if
    :: skip
    :: owner = WORD(EARLIER, 1); seq = 1; blocks = 1
    fi;
    start[0] = 1; start[1] = 1;
    run P(0); run P(1);
#if NPROC > 2
    start[2] = 1;
    run P(2)
#endif
  }
}

/*
 * lanes.pml — a lane: a thread's share of the heap's pages, claimed, worked, given back, and
 * taken over when its owner dies.
 *
 * Stands for:
 *   include/talc/lanes/lane_heap.hpp   LaneHeap::own_lane, free_if_gone, release_pages,
 *                                      check_lanes, give_back, owner_gone, with_lock
 *   include/talc/pages/page_table.hpp  PageTable::take_new, release_empty (the lane's lists,
 *                                      changed by its owner under the lock), finish and sweep
 *                                      (what a dead holder of the lock left, settled by the next)
 *   src/lanes/lane_local.cpp           lanes_local::acquire (pass 0: a free lane; pass 1: also one
 *                                      whose owner is gone)
 *   src/sync/region_lock.cpp           RegionLock::holder_dead, self (the owner word)
 *   src/sync/process.cpp               process_alive, process_tag, read_stat
 *
 * NPROC processes, one thread each, share one lane, so that every process wants the same one
 * (the most contention; the code that claims and takes over a lane is the same whatever the
 * number of lanes). Each loops: with no lane it claims it (acquire); with the lane it hands out
 * blocks from the lane's pages without the lock, or changes the lane's lists under the lock (a
 * new page, pages given back), and may give the lane back. Any of them may also, under the
 * heap's lock, take the lane over for a while when nobody owns it or its owner is gone
 * (release_pages: a request found no memory; check_lanes frees a dead owner's lane the same
 * way). Around them, as in lock.pml: SIGKILL at every step (at most MAXDEATHS), zombies, pids
 * reused by new processes with another start time, reads of /proc that fail (at most MAXFAILS),
 * a process that cannot read its own stat (no identity: no lane, no lock). The lane may also
 * start owned by a process that died holding the lock inside a change of the lane's lists,
 * before the others began. scripts/check-models runs the safety search with 3 processes and 2
 * deaths, the progress search with 3 processes and 1 death; the lane owned at the start by a
 * dead process gives both one more dead owner to take over.
 *
 * Abstractions (each keeps every behaviour of the code that matters here):
 *   - the lane's lists are one bit, `torn`: set while a holder of the lock is inside a change of
 *     them (a page being made or given back), cleared when the change completes or when the
 *     lock's next holder, taking it from a dead one, finishes or undoes it (finish, sweep).
 *     Blocks handed out and given back are pages.pml's; the owner's hand-outs read the lists
 *     without the lock, and must never find them torn.
 *   - the heap's lock is one word taken when free or when its holder is dead, the taker told so
 *     (lock.pml checks the real one). What a process does holding it to what no other process
 *     touches without it is one atomic sequence, with a possible death between any two of its
 *     steps (MAY_DIE); what others see without the lock (the owner word) is a step of its own.
 *   - the owner word names a process (pid and tag): the threads of one process are kept apart by
 *     the process-local records (lane_local.cpp, under a mutex), outside the model; so is fork,
 *     whose child takes no lane of its parent's (its self() differs), and reset_lanes
 *     (fresh_start, by a process that knows it is alone).
 *   - memory is sequentially consistent (the owner word is taken and let go with acquire and
 *     release on a real machine).
 *
 * Properties:
 *   safety    the lane is worked by at most one live process at a time (its owner, or the
 *             process that took it over), asserted whenever one starts; an owner never hands out
 *             blocks from torn lists.
 *   progress  (-DPROGRESS, -DNP, weak fairness) no execution in which, from some point on, the
 *             lane is never claimed and no operation on it completes: a dead owner's lane is
 *             always claimable, since every other process keeps asking for it.
 *
 * Mutants (each must give a counterexample; scripts/check-models checks that they do):
 *   MUTANT_RECLAIM_BY_STORE   free_if_gone takes a dead owner's lane by a plain store, not a CAS
 *                             from the dead owner's word: a claimer that took it meanwhile is
 *                             robbed (safety: two workers)
 *   MUTANT_FAILED_READ_DEAD   a failed read of the owner's stat gives another tag: a live owner
 *                             judged dead and its lane taken from under it (safety; found with
 *                             no death at all)
 *   MUTANT_UNKNOWN_IDENTITY   a process whose own stat cannot be read claims the lane with an
 *                             unknown tag; it dies, its pid is reused, and the lane is never
 *                             claimed again (progress)
 *   MUTANT_CLAIM_WITHOUT_LOCK own_lane serves from a dead owner's lane at once, without taking
 *                             the lock: the lists its owner died changing are read torn (safety)
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
bit  torn;      /* Lane::first / cur: a change of them under the lock is under way */

byte workers;   /* ghost: live processes working the lane */

/* The path that takes the heap's lock for the lane's sake without owning it (release_pages).
 * The lock is not fair: under weak fairness a process that takes it again and again, for ever,
 * starves one that waits for it, which the code does not do (the path runs when memory runs
 * out). So the progress run (-DPROGRESS) lets it run MAXLOOKS times in all; the safety run, any
 * number of times. */
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
 * lock, abstracted: the word free, or its holder dead; a taker from a dead holder finishes or
 * undoes the change of the lists it died in (LaneHeap::with_lock, when `rec`: PageTable::finish,
 * sweep). */
#define TAKE_LOCK \
  if \
  :: atomic { hlock == 0 -> hlock = me } \
  :: atomic { hlock != 0 && HOLDER_DEAD(hlock) -> hlock = me; torn = 0 } \
  fi

/* A change of the lane's lists under the lock (page_table.hpp PageTable::take_new, release_empty),
 * by the process that works the lane. */
#define CHANGE_LISTS \
  torn = 1; \
  MAY_DIE; \
  torn = 0

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

proctype P(byte i)
{
  byte me;       /* RegionLock::self() (include/talc/sync/region_lock.hpp): this process's
                  * word, 0 until known */
  byte w;        /* the owner word as loaded */
  bit mine;      /* this process's thread holds the lane (lane_local.hpp lanes_local::Held) */
  bit working;   /* ghost: this process works the lane */

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
       * or, sometimes, a path that takes the heap's lock for lanes it does not own */
      if
      :: mine -> goto work
      :: !mine
      :: LOOK_AROUND; goto release_pages
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
         /* own_lane: a free lane is its own at once */
         if
         :: w == 0 -> mine = 1; goto claimed
         :: else -> w = 0
         fi
      :: else -> goto top
      fi
    }
#ifdef MUTANT_CLAIM_WITHOUT_LOCK
    mine = 1;  /* the dead owner's lists served from at once */
#else
    /* own_lane: a dead owner's lane: with_lock once, which settles what it left */
    TAKE_LOCK;
    atomic { mine = 1; hlock = 0 }
#endif
claimed:
progress_claimed:
    goto top;

    /* ---- the lane's owner: a small request (lane_heap.hpp lane_allocate, refill_allocate) ---- */
work:
    if
    :: atomic {
         /* PageTable::from_front / allocate_from_pages: blocks from the lane's pages, its lists
          * read without the lock */
         assert(!torn)
       }
    :: /* refill_allocate, release_pages for its own lane: the lists changed under the lock */
       TAKE_LOCK;
       atomic { CHANGE_LISTS; hlock = 0 }
    fi;
progress_op:
    if
    :: goto top  /* keeps the lane */
    :: skip
    fi;
    /* lane_heap.hpp LaneHeap::give_back (lane_local.cpp: the thread ends, or the heap is
     * closed): its empty pages given back under the lock, then the owner word let go */
    TAKE_LOCK;
    atomic { CHANGE_LISTS; hlock = 0 }
    atomic { owner = 0; STOP_WORK; mine = 0; goto top };  /* give_back: owner = 0, release */

release_pages:
    /* lane_heap.hpp LaneHeap::release_pages (retry_after_release: a request found no memory),
     * under the lock: free_if_gone(0), then the lane taken over by a compare-and-swap from 0 and
     * its empty pages given back. check_lanes runs free_if_gone the same way. */
    TAKE_LOCK;
    atomic {
      w = owner;
      if
      :: w == 0 || w == ABANDONED || w == me -> goto take_over  /* owner_gone's first tests */
      :: else
      fi
    }
    OWNER_GONE(w, free_if_gone, take_over);
free_if_gone:
#ifdef MUTANT_RECLAIM_BY_STORE
    atomic { owner = me; START_WORK };  /* the old way: a plain store */
#else
    atomic {
      /* free_if_gone: compare-and-swap w -> self(): a claimer that took the lane meanwhile
       * keeps it */
      if
      :: owner == w -> owner = me; START_WORK
      :: else -> goto take_over
      fi
    }
#endif
    atomic { owner = 0; STOP_WORK };  /* free_if_gone: thread = 0, owner = 0, release */
take_over:
    atomic {
      w = 0;
      /* release_pages: compare-and-swap 0 -> self(), the empty pages given back, owner = 0 */
      if
      :: owner == 0 -> owner = me; START_WORK
      :: else -> hlock = 0; goto top
      fi
    }
    atomic { CHANGE_LISTS };
    atomic { owner = 0; STOP_WORK; hlock = 0; goto top }
  } unless {
    atomic {
      kill[i] == 1 ->
      /* SIGKILL: nothing more runs; a zombie until its parent reaps it; its lane and its lock
       * stay as they were */
      kill[i] = 0; os[i] = ZOMBIE;
      if :: working -> workers--; working = 0 :: else fi;
      me = 0; w = 0; mine = 0
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
    /* the lane free, or owned by a process that died holding the lock inside a change of the
     * lane's lists before the others began (its pid is gone; a claimer finds it so) */
    os[EARLIER] = GONE;
    start[EARLIER] = 1;
    if
    :: skip
    :: owner = WORD(EARLIER, 1); hlock = WORD(EARLIER, 1); torn = 1
    fi;
    start[0] = 1; start[1] = 1;
    run P(0); run P(1);
#if NPROC > 2
    start[2] = 1;
    run P(2)
#endif
  }
}

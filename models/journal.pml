/*
 * journal.pml — the undo journal that makes each heap operation atomic with respect to the death
 * of the process running it.
 *
 * Stands for:
 *   include/talc/core/journal.hpp          Journal::record, store_after_record, commit, roll_back
 *   include/talc/core/talc_meta.hpp        TalcMeta::put (record, then store_after_record)
 *   include/talc/core/talc_meta_recover.hpp TalcMeta::recover_after_death -> undo -> roll_back
 *   include/talc/sync/talck_meta.hpp       TalckMeta::with_lock, recover (the taker rolls back
 *                                          before it runs anything)
 *
 * NPROC processes (3 by default; scripts/check-models says which) take the heap's lock in turn
 * and run one operation each time. The operation writes word A, then B, then A again (an
 * operation may write one word twice, as a reallocation rewrites a tag it wrote: the roll-back
 * must then restore the oldest value, hence last to first). Every store is one step: the entry's
 * offset, its old value, the count, the protected word, the commit, and each store of the
 * roll-back. SIGKILL may come before any of them (the process `killer`; the victim's `unless`
 * escape takes it before its next statement), in the operation and in the roll-back alike, at
 * most MAXDEATHS times in all; each killed process is replaced by a new one on the same slot.
 *
 * The lock itself is abstracted here: one word, taken when free or when its holder is dead, the
 * taker told so; lock.pml checks the real one (who is dead, from what evidence). The journal's
 * entries are believed (Journal::roll_back's may_write and agree, and the local check after it,
 * refuse a scribbled journal; that is not a protocol between processes and is tested in C++).
 * Memory is sequentially consistent: the release stores of journal.hpp are what give that order
 * on a real machine.
 *
 * Property (safety): when a taker has rolled back what a dead holder left, the words equal
 * either what they were before that holder's operation or what it would have made them; and an
 * operation that commits leaves exactly what it meant to.
 *
 * Mutants (each must give a counterexample; scripts/check-models checks that they do):
 *   MUTANT_WRITE_BEFORE_RECORD   the word is stored before its entry is recorded
 *   MUTANT_COUNT_BEFORE_ENTRY    the count covers an entry before the entry is written
 *   MUTANT_FORWARD_ROLLBACK      the roll-back restores first to last
 *   MUTANT_EMPTY_BEFORE_RESTORE  the roll-back empties the journal before it restores the words
 */

#ifndef NPROC
#define NPROC 3
#endif
#ifndef MAXDEATHS
#define MAXDEATHS 3
#endif
#define CAP 3  /* the model's operation makes three puts (Journal::kCapacity is 40) */

/* What the lock protects: two words of the heap, values mod 4. */
byte A, B;
/* Journal: len_ and entries_ (offset: 0 names A, 1 names B; old: the value before). */
byte jlen;
bit  joff[CAP];
byte jold[CAP];

/* The abstract lock: 0 free, else 1 + the holder's slot; holder_dead: the process that took it
 * died (lock.pml checks how that is told). alive[p]: slot p has a live process. */
byte lockw;
bit  holder_dead;
bit  alive[NPROC];
bit  kill[NPROC];
byte deaths;

/* Ghost: the words when the current holder took the lock (after its roll-back, if any). */
byte preA, preB;

#define AFTER_A ((preA + 2) % 4)
#define AFTER_B ((preB + 1) % 4)

/* include/talc/core/talc_meta.hpp TalcMeta::put(off, get(off), get(off) + 1):
 * include/talc/core/journal.hpp Journal::record (entries_[n].offset, entries_[n].old, then len_
 * with release), then Journal::store_after_record (the word, with release). */
inline put(off)
{
  atomic { n = jlen; o = (off == 0 -> A : B) };  /* Journal::record reads len_; put, the word */
#ifdef MUTANT_WRITE_BEFORE_RECORD
  if :: off == 0 -> A = (o + 1) % 4 :: else -> B = (o + 1) % 4 fi;
#endif
#ifdef MUTANT_COUNT_BEFORE_ENTRY
  jlen = n + 1;
#endif
  joff[n] = off;  /* Journal::record: entries_[n].offset */
  jold[n] = o;    /* Journal::record: entries_[n].old */
#ifndef MUTANT_COUNT_BEFORE_ENTRY
  jlen = n + 1;  /* Journal::record: len_, after the entry it covers */
#endif
#ifndef MUTANT_WRITE_BEFORE_RECORD
  /* Journal::store_after_record: the word, after the count that covers it */
  if :: off == 0 -> A = (o + 1) % 4 :: else -> B = (o + 1) % 4 fi;
#endif
  n = 0; o = 0
}

/* include/talc/core/journal.hpp Journal::roll_back (from include/talc/core/
 * talc_meta_recover.hpp TalcMeta::undo): entries restored last to first, then commit() empties
 * the journal. A death inside leaves the journal whole, so the next taker redoes all of it. */
inline roll_back()
{
#ifdef MUTANT_EMPTY_BEFORE_RESTORE
  n = jlen;
  jlen = 0;
#else
  n = jlen;
#endif
#ifdef MUTANT_FORWARD_ROLLBACK
  k = 0;
  do
  :: k < n ->
     if :: joff[k] == 0 -> A = jold[k] :: else -> B = jold[k] fi;
     k++
  :: else -> break
  od;
#else
  k = n;
  do
  :: k > 0 ->
     k--;
     if :: joff[k] == 0 -> A = jold[k] :: else -> B = jold[k] fi  /* store_after_record */
  :: else -> break
  od;
#endif
  k = 0;
  n = 0;
  jlen = 0  /* Journal::commit: the journal emptied last */
}

proctype P(byte i)
{
  byte n, k, o;  /* locals of put and roll_back */
  bit undone_or_done;  /* what the assertion after a roll-back says */

life:
  {
    do
    :: /* include/talc/sync/talck_meta.hpp TalckMeta::with_lock -> RegionLock::lock
        * (abstracted): free, or its holder dead */
       if
       :: atomic { lockw == 0 -> lockw = i + 1; preA = A; preB = B }  /* ghost: where f starts */
       :: atomic { lockw != 0 && holder_dead -> lockw = i + 1; holder_dead = 0 };
          /* owner_died: talck_meta.hpp TalckMeta::recover -> talc_meta_recover.hpp
           * recover_after_death -> undo -> journal.hpp Journal::roll_back */
          roll_back();
          /* what recovery vouches for: the dead holder's operation undone, or done whole */
          atomic {
            undone_or_done = (A == preA && B == preB) || (A == AFTER_A && B == AFTER_B);
            assert(undone_or_done);
            undone_or_done = 0
          }
          atomic { preA = A; preB = B }
       fi;
       /* with_lock runs f: one operation */
       put(0);  /* TalcMeta::put of A */
       put(1);  /* TalcMeta::put of B */
       put(0);  /* TalcMeta::put of A again: its entry holds the value the first put stored */
       jlen = 0;  /* journal.hpp Journal::commit (TalcMeta::commit) */
       assert(A == AFTER_A && B == AFTER_B);
       /* include/talc/sync/region_lock.hpp RegionLock::unlock */
       lockw = 0
    od
  } unless {
    atomic {
      kill[i] ->
      /* SIGKILL: nothing more runs; a lock it held names a dead process */
      if :: lockw == i + 1 -> holder_dead = 1 :: else fi;
      kill[i] = 0; alive[i] = 0; n = 0; k = 0; o = 0
    }
  };
  /* a new process in the slot (its pid reused, with another identity), which takes the lock in
   * turn */
  alive[i] = 1;
  goto life
}

active proctype killer()
{
  do
  :: atomic { deaths < MAXDEATHS && alive[0] && !kill[0] -> kill[0] = 1; deaths++ }
  :: atomic { deaths < MAXDEATHS && alive[1] && !kill[1] -> kill[1] = 1; deaths++ }
#if NPROC > 2
  :: atomic { deaths < MAXDEATHS && alive[2] && !kill[2] -> kill[2] = 1; deaths++ }
#endif
  :: break
  od
}

init
{
  atomic {
    alive[0] = 1; alive[1] = 1;
    run P(0); run P(1);
#if NPROC > 2
    alive[2] = 1;
    run P(2)
#endif
  }
}

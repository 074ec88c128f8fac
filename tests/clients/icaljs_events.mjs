// What Thunderbird's parser (ical.js) reads in .ics files, as JSON on stdout.
//
//   node icaljs_events.mjs FILE...
//
// One record per file: {file, method, errors, events: [{uid, start, end, occurrences}]}.
// A time is "YYYY-MM-DDTHH:MM:SSZ" (the instant, zones from the file's own VTIMEZONEs),
// "YYYY-MM-DD" for an all-day date, or "floating YYYY-MM-DDTHH:MM:SS" for a floating
// time (the tests expect none). Occurrences are those event.iterator() yields, which
// applies RRULE, RDATE and EXDATE as Thunderbird does.
import fs from 'node:fs';
import ICAL from 'ical.js';

// A series that never ends is a bug in what we produce, not something to expand forever.
const MAX_OCCURRENCES = 5000;

function when(time) {
  if (time.isDate) return time.toString();
  if (time.zone && time.zone.tzid === 'floating') return `floating ${time.toString()}`;
  return new Date(time.toUnixTime() * 1000).toISOString().replace('.000Z', 'Z');
}

function occurrences(event, errors) {
  if (!event.isRecurring()) return [when(event.startDate)];
  const found = [];
  const iterator = event.iterator();
  for (let next = iterator.next(); next; next = iterator.next()) {
    if (found.length === MAX_OCCURRENCES) {
      errors.push(`${event.uid}: more than ${MAX_OCCURRENCES} occurrences`);
      break;
    }
    found.push(when(next));
  }
  return found;
}

function read(file) {
  const record = { file, method: null, errors: [], events: [] };
  try {
    const root = new ICAL.Component(ICAL.parse(fs.readFileSync(file, 'utf8')));
    record.method = root.getFirstPropertyValue('method');
    for (const component of root.getAllSubcomponents('vevent')) {
      const event = new ICAL.Event(component);
      record.events.push({
        uid: event.uid,
        start: when(event.startDate),
        end: event.endDate ? when(event.endDate) : null,
        occurrences: occurrences(event, record.errors),
      });
    }
  } catch (error) {
    record.errors.push(String(error));
  }
  return record;
}

process.stdout.write(JSON.stringify(process.argv.slice(2).map(read)));

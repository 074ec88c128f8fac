/* What Evolution's calendar library (libical) reads in .ics files, as JSON on stdout.
 *
 *   libical_events FILE...
 *
 * One record per file: {file, method, errors, restriction_errors, events: [{uid, start,
 * end, occurrences}]}, times written as tests/clients/icaljs_events.mjs writes them.
 * "errors" are the X-LIC-ERROR properties the parser left; "restriction_errors" those
 * that icalrestriction_check (the RFC 5546 rules per METHOD) adds. Occurrences come from
 * icalcomponent_foreach_recurrence, which applies RRULE, RDATE and EXDATE; zones are the
 * file's own VTIMEZONEs. Compiled by the tests with gcc and pkg-config. */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void json_string(const char *text)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)(text ? text : ""); *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    }
    putchar('"');
}

/* A list of JSON values written one at a time: the comma goes before all but the first. */
static void item(int *count)
{
    if ((*count)++ > 0)
        putchar(',');
}

static void instant(time_t moment, int is_date)
{
    char text[32];
    struct tm utc;
    gmtime_r(&moment, &utc);
    strftime(text, sizeof text, is_date ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ", &utc);
    json_string(text);
}

static void when(struct icaltimetype time)
{
    char text[48];
    if (icaltime_is_null_time(time)) {
        printf("null");
    } else if (time.is_date) {
        snprintf(text, sizeof text, "%04d-%02d-%02d", time.year, time.month, time.day);
        json_string(text);
    } else if (time.zone == NULL && !icaltime_is_utc(time)) {
        snprintf(text, sizeof text, "floating %04d-%02d-%02dT%02d:%02d:%02d", time.year,
                 time.month, time.day, time.hour, time.minute, time.second);
        json_string(text);
    } else {
        const icaltimezone *zone = time.zone ? time.zone : icaltimezone_get_utc_timezone();
        instant(icaltime_as_timet_with_zone(time, zone), 0);
    }
}

static void errors_in(icalcomponent *component, int *count)
{
    for (icalproperty *error = icalcomponent_get_first_property(component, ICAL_XLICERROR_PROPERTY);
         error; error = icalcomponent_get_next_property(component, ICAL_XLICERROR_PROPERTY)) {
        char text[1200];
        snprintf(text, sizeof text, "%s: %s",
                 icalcomponent_kind_to_string(icalcomponent_isa(component)),
                 icalproperty_get_xlicerror(error));
        item(count);
        json_string(text);
    }
    for (icalcomponent *inner = icalcomponent_get_first_component(component, ICAL_ANY_COMPONENT);
         inner; inner = icalcomponent_get_next_component(component, ICAL_ANY_COMPONENT))
        errors_in(inner, count);
}

/* The restriction check adds its own X-LIC-ERRORs: remove the parser's first, so each
 * list holds only what its own stage found. */
static void remove_errors(icalcomponent *component)
{
    icalproperty *error = icalcomponent_get_first_property(component, ICAL_XLICERROR_PROPERTY);
    while (error) {
        icalproperty *next = icalcomponent_get_next_property(component, ICAL_XLICERROR_PROPERTY);
        icalcomponent_remove_property(component, error);
        icalproperty_free(error);
        error = next;
    }
    for (icalcomponent *inner = icalcomponent_get_first_component(component, ICAL_ANY_COMPONENT);
         inner; inner = icalcomponent_get_next_component(component, ICAL_ANY_COMPONENT))
        remove_errors(inner);
}

struct expansion {
    int is_date;
    int count;
};

static void occurrence(icalcomponent *event, struct icaltime_span *span, void *data)
{
    (void)event;
    struct expansion *seen = data;
    item(&seen->count);
    instant(span->start, seen->is_date);
}

static void event_json(icalcomponent *event)
{
    struct icaltimetype start = icalcomponent_get_dtstart(event);
    printf("{\"uid\":");
    json_string(icalcomponent_get_uid(event));
    printf(",\"start\":");
    when(start);
    printf(",\"end\":");
    when(icalcomponent_get_dtend(event));
    printf(",\"occurrences\":[");
    struct expansion seen = {start.is_date, 0};
    /* Wide enough for any plan; every series we write ends (UNTIL). */
    icalcomponent_foreach_recurrence(event, icaltime_from_string("19700101T000000Z"),
                                     icaltime_from_string("21000101T000000Z"), occurrence, &seen);
    printf("]}");
}

static char *contents(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    rewind(file);
    char *text = malloc((size_t)size + 1);
    size_t got = text ? fread(text, 1, (size_t)size, file) : 0;
    fclose(file);
    if (text)
        text[got] = '\0';
    return text;
}

static void file_json(const char *path)
{
    printf("{\"file\":");
    json_string(path);
    char *text = contents(path);
    icalcomponent *root = text ? icalparser_parse_string(text) : NULL;
    if (!root) {
        printf(",\"method\":null,\"errors\":[");
        json_string(text ? "libical could not parse the file" : "cannot read the file");
        printf("],\"restriction_errors\":[],\"events\":[]}");
        free(text);
        return;
    }
    icalproperty *method = icalcomponent_get_first_property(root, ICAL_METHOD_PROPERTY);
    printf(",\"method\":");
    if (method)
        json_string(icalproperty_method_to_string(icalproperty_get_method(method)));
    else
        printf("null");
    int count = 0;
    printf(",\"errors\":[");
    errors_in(root, &count);
    remove_errors(root);
    printf("],\"restriction_errors\":[");
    count = 0;
    if (!icalrestriction_check(root) || icalcomponent_count_errors(root) > 0) {
        errors_in(root, &count);
        if (count == 0) {
            item(&count);
            json_string("icalrestriction_check failed without saying why");
        }
    }
    printf("],\"events\":[");
    count = 0;
    for (icalcomponent *event = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
         event; event = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
        item(&count);
        event_json(event);
    }
    printf("]}");
    icalcomponent_free(root);
    free(text);
}

int main(int argc, char **argv)
{
    printf("[");
    for (int i = 1; i < argc; i++) {
        if (i > 1)
            putchar(',');
        file_json(argv[i]);
    }
    printf("]\n");
    return 0;
}
